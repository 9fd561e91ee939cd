// The dashboard's resource cards. resourceCards() builds them empty; its
// update(snapshot) fills them from GET /api/resources or a WebSocket sample.
// Nodes are updated in place (lists by key) so hover titles and selected
// text survive the sample every two seconds.
import { h, syncList } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { meter, setMeter } from '../../ui/meter.js';
import {
  formatBytes, formatDateTime, formatDuration, formatNumber, formatPercent, formatRate,
} from '../../ui/format.js';

const DASH = '—';

/** {cards: [elements], update(snapshot)}. */
export function resourceCards() {
  const parts = [cpuCard(), memoryCard(), swapCard(), loadCard(), networkCard(), systemCard(), disksCard()];
  return {
    cards: parts.map((p) => p.el),
    update(snapshot) {
      for (const part of parts) part.update(snapshot);
    },
  };
}

function card(id, iconName, title, extraClass, ...body) {
  return h('section', { class: ['card', 'stat-card', extraClass], 'aria-labelledby': `${id}-title`, dataset: { card: id } },
    h('h2', { class: 'card-title', id: `${id}-title` }, icon(iconName), title),
    ...body);
}

function has(value) {
  return value != null && Number.isFinite(Number(value));
}

// Rates and CPU are differences between two samples: the first has none.
function measuring(snapshot) {
  return Boolean(snapshot.warming_up);
}

function cpuCard() {
  const value = h('span', { class: 'stat-value', dataset: { metric: 'cpu' } }, DASH);
  const sub = h('span', { class: 'stat-sub' });
  const bar = meter('CPU usage');
  const cores = h('div', { class: 'cores', role: 'img', 'aria-label': 'Usage per core' });
  const el = card('cpu', 'cpu', 'CPU', null,
    h('div', { class: 'stat-main' }, value, sub),
    bar,
    h('p', { class: 'stat-caption' }, 'Per core'),
    cores);
  return {
    el,
    update(s) {
      const pending = measuring(s) && !s.cpu_percent;
      setText(value, pending ? 'Measuring…' : has(s.cpu_percent) ? formatPercent(s.cpu_percent) : DASH);
      value.classList.toggle('stat-pending', pending);
      sub.textContent = has(s.cpu_count) ? `${s.cpu_count} ${s.cpu_count === 1 ? 'core' : 'cores'}` : '';
      setMeter(bar, pending ? 0 : s.cpu_percent, { text: formatPercent(s.cpu_percent) });
      syncCores(cores, Array.isArray(s.cpu_per_core) ? s.cpu_per_core : []);
    },
  };
}

function syncCores(container, values) {
  while (container.children.length > values.length) container.lastElementChild.remove();
  while (container.children.length < values.length) {
    container.append(h('span', { class: 'core' }, h('span', { class: 'core-fill' })));
  }
  values.forEach((v, i) => {
    const bar = container.children[i];
    const pct = Math.min(100, Math.max(0, Number(v) || 0));
    bar.style.setProperty('--fill', String(pct / 100));
    bar.dataset.level = pct >= 90 ? 'danger' : pct >= 80 ? 'warning' : 'normal';
    bar.title = `Core ${i + 1}: ${formatPercent(v)}`;
  });
  container.setAttribute('aria-label', values.length
    ? `Usage per core: ${values.map((v, i) => `core ${i + 1} ${formatPercent(v, 0)}`).join(', ')}`
    : 'Usage per core: not measured yet');
  container.classList.toggle('cores-many', values.length > 16);
}

function usageCard(id, iconName, title, read) {
  const value = h('span', { class: 'stat-value', dataset: { metric: id } }, DASH);
  const sub = h('span', { class: 'stat-sub' });
  const pct = h('span', { class: 'stat-pct', dataset: { metric: `${id}-percent` } });
  const bar = meter(`${title} usage`);
  const details = h('dl', { class: 'stat-details' });
  const empty = h('p', { class: 'stat-empty', hidden: true });
  const el = card(id, iconName, title, null,
    h('div', { class: 'stat-main' }, value, sub, pct), bar, empty, details);
  return {
    el,
    update(s) {
      const { used, total, percent, rows, none } = read(s);
      if (!has(total)) return;
      empty.hidden = !none;
      bar.hidden = Boolean(none);
      if (none) {
        setText(value, 'None');
        sub.textContent = '';
        pct.textContent = '';
        empty.textContent = none;
      } else {
        setText(value, formatBytes(used));
        sub.textContent = `of ${formatBytes(total)}`;
        pct.textContent = formatPercent(percent);
        setMeter(bar, percent, { text: `${formatPercent(percent)}, ${formatBytes(used)} of ${formatBytes(total)}` });
      }
      details.replaceChildren(...rows.filter(([, v]) => has(v)).map(([label, v]) => h('div', null,
        h('dt', null, label), h('dd', null, formatBytes(v)))));
    },
  };
}

function memoryCard() {
  return usageCard('memory', 'memory', 'Memory', (s) => ({
    used: s.memory_used,
    total: s.memory_total,
    percent: s.memory_percent,
    rows: [['Available', s.memory_available], ['Cached', s.memory_cached], ['Buffers', s.memory_buffers]],
  }));
}

function swapCard() {
  return usageCard('swap', 'swap', 'Swap', (s) => ({
    used: s.swap_used,
    total: s.swap_total,
    percent: s.swap_percent,
    rows: s.swap_total ? [['Free', s.swap_total - s.swap_used]] : [],
    none: s.swap_total === 0 ? 'This server has no swap space.' : null,
  }));
}

function loadCard() {
  const spans = [['1 min', 0], ['5 min', 1], ['15 min', 2]].map(([label, i]) => {
    const value = h('span', { class: 'load-value', dataset: { metric: `load${[1, 5, 15][i]}` } }, DASH);
    const bar = meter(`Load average over ${label}, relative to the number of cores`, 'meter-sm');
    return { i, value, bar, el: h('div', { class: 'load-item' }, h('span', { class: 'load-label' }, label), value, bar) };
  });
  const foot = h('p', { class: 'stat-foot stat-foot-near' });
  const el = card('load', 'gauge', 'Load average', null,
    h('div', { class: 'load-grid' }, spans.map((s) => s.el)), foot);
  return {
    el,
    update(s) {
      const load = Array.isArray(s.load_average) ? s.load_average : [];
      const cores = Number(s.cpu_count) || 1;
      for (const span of spans) {
        const v = load[span.i];
        setText(span.value, formatNumber(v));
        setMeter(span.bar, (Number(v) || 0) / cores * 100, { text: `${formatNumber(v)} with ${cores} cores` });
      }
      foot.textContent = `${cores} ${cores === 1 ? 'core' : 'cores'}: a load of ${cores} keeps ${cores === 1 ? 'it' : 'every core'} busy.`;
    },
  };
}

// A host with containers has an interface per container: the card shows
// the ones that moved the most data since boot (an order that rarely
// changes, so rows do not jump between samples).
const MAX_INTERFACES = 5;

function networkCard() {
  const list = h('ul', { class: 'net-list' });
  const empty = h('p', { class: 'stat-empty' }, 'No network interfaces measured yet.');
  const more = h('p', { class: 'stat-foot', hidden: true });
  const el = card('network', 'network', 'Network', null, list, empty, more);
  return {
    el,
    update(s) {
      if (!Array.isArray(s.networks)) return;
      const pending = measuring(s);
      empty.hidden = s.networks.length > 0;
      if (!s.networks.length) empty.textContent = 'No network interfaces.';
      const shown = [...s.networks]
        .sort((a, b) => (b.received + b.transmitted) - (a.received + a.transmitted))
        .slice(0, MAX_INTERFACES);
      const hiddenCount = s.networks.length - shown.length;
      more.hidden = hiddenCount <= 0;
      more.replaceChildren(`${hiddenCount} more ${hiddenCount === 1 ? 'interface' : 'interfaces'} on the `,
        h('a', { href: '/monitor' }, 'System Monitor'), '.');
      syncList(list, shown, (n) => n.interface, () => {
        const name = h('span', { class: 'net-name' });
        const rx = h('span', { class: 'net-rate', dataset: { metric: 'rx' } });
        const tx = h('span', { class: 'net-rate', dataset: { metric: 'tx' } });
        const total = h('span', { class: 'net-total' });
        const row = h('li', { class: 'net-row' }, name,
          h('span', { class: 'net-rates' },
            h('span', { class: 'net-dir', title: 'Received per second' }, icon('arrowDown', 'net-icon net-icon-rx'),
              h('span', { class: 'visually-hidden' }, 'Received '), rx),
            h('span', { class: 'net-dir', title: 'Sent per second' }, icon('arrowUp', 'net-icon net-icon-tx'),
              h('span', { class: 'visually-hidden' }, 'Sent '), tx)),
          total);
        row.update = (n) => {
          row.dataset.interface = n.interface;
          setText(name, n.interface);
          setText(rx, pending ? 'Measuring…' : formatRate(n.rx_bytes_per_s));
          setText(tx, pending ? 'Measuring…' : formatRate(n.tx_bytes_per_s));
          setText(total, `Since boot: ${formatBytes(n.received)} received, ${formatBytes(n.transmitted)} sent`);
        };
        return row;
      });
    },
  };
}

function disksCard() {
  const list = h('ul', { class: 'disk-list' });
  const empty = h('p', { class: 'stat-empty' }, 'No disks measured yet.');
  const read = h('span', { class: 'io-value', dataset: { metric: 'disk-read' } }, DASH);
  const write = h('span', { class: 'io-value', dataset: { metric: 'disk-write' } }, DASH);
  const el = card('disks', 'disk', 'Disks', 'stat-card-wide', list, empty,
    h('dl', { class: 'io-row' },
      h('div', null, h('dt', null, 'Reading'), h('dd', null, read)),
      h('div', null, h('dt', null, 'Writing'), h('dd', null, write))));
  return {
    el,
    update(s) {
      if (Array.isArray(s.disks)) {
        empty.hidden = s.disks.length > 0;
        if (!s.disks.length) empty.textContent = 'No disks.';
        syncList(list, s.disks, (d) => d.mount_point, () => {
          const mount = h('span', { class: 'disk-mount' });
          const device = h('span', { class: 'disk-device' });
          const usage = h('span', { class: 'disk-usage' });
          const pct = h('span', { class: 'disk-pct' });
          const bar = meter('Disk usage');
          const row = h('li', { class: 'disk-row' },
            h('div', { class: 'disk-head' },
              h('span', { class: 'disk-name' }, mount, device),
              h('span', { class: 'disk-figures' }, usage, pct)),
            bar);
          row.update = (d) => {
            row.dataset.mount = d.mount_point;
            setText(mount, d.mount_point);
            mount.title = d.mount_point;
            setText(device, [d.device, d.fstype].filter(Boolean).join(' · '));
            setText(usage, `${formatBytes(d.used)} of ${formatBytes(d.total)}`);
            setText(pct, formatPercent(d.percent, 0));
            bar.setAttribute('aria-label', `Disk usage of ${d.mount_point}`);
            setMeter(bar, d.percent, { text: `${formatPercent(d.percent)}, ${formatBytes(d.free)} free` });
          };
          return row;
        });
      }
      const io = s.disk_io;
      if (io) {
        setText(read, measuring(s) ? 'Measuring…' : formatRate(io.read_bytes_per_s));
        setText(write, measuring(s) ? 'Measuring…' : formatRate(io.write_bytes_per_s));
      }
    },
  };
}

function systemCard() {
  const fields = {};
  const row = (key, label) => {
    fields[key] = h('dd', { dataset: { metric: key } }, DASH);
    return [h('dt', null, label), fields[key]];
  };
  const el = card('system', 'server', 'System', null,
    h('dl', { class: 'kv kv-compact' },
      row('hostname', 'Hostname'), row('os', 'OS'), row('kernel', 'Kernel'), row('cpu-model', 'CPU'),
      row('uptime', 'Uptime'), row('processes', 'Processes')));
  return {
    el,
    update(s) {
      const put = (key, text) => { if (text != null && text !== '') setText(fields[key], String(text)); };
      put('hostname', s.hostname);
      put('os', s.os);
      put('kernel', s.kernel);
      put('cpu-model', s.cpu_model);
      if (has(s.uptime_seconds)) {
        put('uptime', formatDuration(s.uptime_seconds));
        if (has(s.boot_time)) fields.uptime.title = `Booted ${formatDateTime(s.boot_time)}`;
      }
      if (has(s.process_count)) put('processes', String(s.process_count));
    },
  };
}

// Writing the same text again would still be a DOM mutation (and restart
// screen-reader announcements in live regions): skip it.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
