// System Monitor: charts of the resource history (the last hour at full
// resolution or 24 hours of 1-minute averages), extended live from the
// WebSocket on the 1 h view, and the top processes below. Clients see it too.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { api } from '../api.js';
import { subscribe } from '../live.js';
import { liveStatus } from '../ui/live-status.js';
import { showError } from '../ui/toast.js';
import { BYTE_INCRS, loadChartStyles, timeChart } from '../ui/chart.js';
import { formatBytes, formatNumber, formatPercent, formatRate } from '../ui/format.js';
import { page, pageHeader } from '../ui/page.js';
import { loadError } from '../ui/load-error.js';
import { later, onAbort, scope } from '../lifetime.js';
import { appendSample, busiestInterface, normalize } from './monitor/history.js';
import { processesSection } from './monitor/processes.js';

const RANGES = [
  { id: '1h', label: '1 hour', seconds: 3600, lead: 'the last hour, every sample' },
  { id: '24h', label: '24 hours', seconds: 86400, lead: 'the last 24 hours, 1-minute averages' },
];
// The 24 h view gains a point a minute; fetching it again that often is cheap.
const REFRESH_24H_MS = 60_000;

const percent = (v) => formatPercent(v);
const percentAxis = (v) => `${Math.round(v)}%`;
const rate = (v) => formatRate(v);
const rateAxis = (v) => `${formatBytes(v).replace(/\.0 /, ' ')}/s`;

// What each chart shows; values(hist) returns its y arrays, series(hist) their looks.
const CHARTS = [
  {
    id: 'cpu', title: 'CPU', icon: 'cpu', format: percent, axisFormat: percentAxis, range: [0, 100],
    series: (hist) => [
      { label: hist.cpu_max ? 'Average' : 'CPU', color: '--chart-1', fill: '--chart-1-soft' },
      ...(hist.cpu_max ? [{ label: 'Peak', color: '--chart-6', dash: [4, 3], width: 1.25 }] : []),
    ],
    values: (hist) => [hist.cpu, ...(hist.cpu_max ? [hist.cpu_max] : [])],
  },
  {
    id: 'cores', title: 'CPU per core', icon: 'cpuCores', format: percent, axisFormat: percentAxis, range: [0, 100],
    series: (hist) => hist.cores.map((_, i) => ({ label: `Core ${i + 1}`, color: `--chart-${(i % 8) + 1}`, width: 1.25 })),
    values: (hist) => hist.cores,
    note: (hist) => (hist.cores.length ? `${hist.cores.length} ${hist.cores.length === 1 ? 'core' : 'cores'}` : ''),
  },
  {
    id: 'memory', title: 'Memory and swap', icon: 'memory', format: percent, axisFormat: percentAxis, range: [0, 100],
    series: () => [
      { label: 'Memory', color: '--chart-2', fill: '--chart-2-soft' },
      { label: 'Swap', color: '--chart-3' },
    ],
    values: (hist) => [hist.mem, hist.swap],
  },
  {
    id: 'network', title: 'Network', icon: 'network', format: rate, axisFormat: rateAxis, incrs: BYTE_INCRS,
    series: () => [
      { label: 'Received', color: '--chart-4', fill: '--chart-4-soft' },
      { label: 'Sent', color: '--chart-5' },
    ],
    values: (hist, view) => {
      const io = hist.net[view.iface];
      return io ? [io.rx, io.tx] : [hist.timestamps.map(() => null), hist.timestamps.map(() => null)];
    },
  },
  {
    id: 'disk-io', title: 'Disk I/O', icon: 'disk', format: rate, axisFormat: rateAxis, incrs: BYTE_INCRS,
    series: () => [
      { label: 'Read', color: '--chart-2', fill: '--chart-2-soft' },
      { label: 'Write', color: '--chart-3' },
    ],
    values: (hist) => [hist.read, hist.write],
  },
  {
    id: 'load', title: 'Load average', icon: 'gauge', format: (v) => formatNumber(v),
    series: () => [{ label: '1 min', color: '--chart-1', fill: '--chart-1-soft' }],
    values: (hist) => [hist.load1],
    note: (hist) => (hist.cores.length ? `${hist.cores.length} ${hist.cores.length === 1 ? 'core' : 'cores'}` : ''),
  },
];

export function mount(root, ctx) {
  const view = {
    range: ctx.query.get('range') === '24h' ? '24h' : '1h',
    iface: null,
    hist: null,
    seq: 0,
    inflight: null,
    cancelRefresh: () => {},
    charts: new Map(), // id → {card parts, chart}
    signal: ctx.signal,
  };

  const rangeButtons = RANGES.map((r) => h('button', {
    type: 'button', class: 'segment', 'aria-pressed': r.id === view.range, dataset: { range: r.id },
    onClick: () => setRange(view, r.id),
  }, r.label));
  view.rangeButtons = rangeButtons;
  view.lead = h('p', { class: 'charts-lead' });
  view.notice = h('div', { class: 'notice-slot' });
  view.grid = h('div', { class: 'charts', 'aria-busy': 'true' }, CHARTS.map((def) => chartCard(view, def)));
  const processes = processesSection(ctx);
  const live = liveStatus({
    signal: ctx.signal,
    onChange: (state) => {
      view.grid.classList.toggle('is-stale', state === 'reconnecting');
      // The server kept sampling while the socket was down: fetch the gap.
      if (state === 'connected' && view.wasDown) loadHistory(view, { quiet: true });
      view.wasDown = state === 'reconnecting';
    },
  });

  root.append(page(
    pageHeader('System Monitor', 'CPU, memory, network, disks and processes of this server.', live.el),
    h('div', { class: 'toolbar' },
      h('div', { class: 'segmented', role: 'group', 'aria-label': 'Time range' }, rangeButtons),
      view.lead),
    view.notice,
    view.grid,
    processes.el));

  subscribe('resources', (sample) => onSample(view, sample), { signal: ctx.signal });
  onAbort(ctx.signal, () => {
    for (const entry of view.charts.values()) {
      if (entry.chart) entry.chart.destroy();
      entry.chart = null;
    }
  });
  loadHistory(view);
}

function chartCard(view, def) {
  const body = h('div', { class: 'chart', dataset: { points: '0' } });
  const note = h('span', { class: 'chart-note' });
  const empty = h('p', { class: 'chart-empty', hidden: true });
  const tools = h('div', { class: 'chart-tools' }, note);
  let select = null;
  if (def.id === 'network') {
    select = h('select', {
      class: 'input select input-sm', 'aria-label': 'Network interface',
      onChange: () => {
        view.iface = select.value;
        drawChart(view, def);
      },
    });
    tools.append(select);
  }
  const titleId = `chart-${def.id}-title`;
  const el = h('section', { class: 'card chart-card', 'aria-labelledby': titleId, dataset: { chart: def.id } },
    h('div', { class: 'chart-head' },
      h('h2', { class: 'card-title', id: titleId }, icon(def.icon), def.title),
      tools),
    h('div', { class: 'chart-frame' }, body, empty));
  view.charts.set(def.id, { def, el, body, note, empty, select, chart: null });
  return el;
}

function setRange(view, range) {
  if (range === view.range) return;
  view.range = range;
  for (const button of view.rangeButtons) button.setAttribute('aria-pressed', String(button.dataset.range === range));
  // Keep the choice in the address: reloads and shared links show the same view.
  const url = new URL(window.location.href);
  if (range === '1h') url.searchParams.delete('range');
  else url.searchParams.set('range', range);
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  loadHistory(view);
}

// quiet: a background refresh of the same view (no busy state, charts
// keep their hover), not a new range.
async function loadHistory(view, { quiet = false } = {}) {
  if (view.signal.aborted) return;
  const seq = ++view.seq;
  view.cancelRefresh();
  if (view.inflight) view.inflight.abort();
  const controller = scope(view.signal);
  view.inflight = controller;
  const range = view.range;
  if (!quiet) {
    view.grid.setAttribute('aria-busy', 'true');
    setLead(view, range, null);
  }
  let raw;
  try {
    [raw] = await Promise.all([
      api.get(`/api/resources/history?range=${range}`, { signal: controller.signal }),
      loadChartStyles(),
    ]);
  } catch (err) {
    if (controller.signal.aborted || seq !== view.seq) return;
    view.grid.removeAttribute('aria-busy');
    showFailure(view, err);
    showError(err, 'Resource history');
    return;
  } finally {
    if (view.inflight === controller) view.inflight = null;
    controller.abort(); // done: let go of the page's signal
  }
  if (seq !== view.seq || view.signal.aborted) return;
  view.grid.removeAttribute('aria-busy');
  view.notice.replaceChildren();
  view.hist = normalize(raw);
  setLead(view, range, view.hist);
  chooseInterface(view);
  for (const def of CHARTS) drawChart(view, def);
  if (range === '24h') view.cancelRefresh = later(view.signal, REFRESH_24H_MS, () => loadHistory(view, { quiet: true }));
}

function setLead(view, range, hist) {
  const r = RANGES.find((x) => x.id === range);
  if (!hist) {
    view.lead.textContent = `Loading ${r.label}…`;
    return;
  }
  // A young server has less than the range: say how much (the charts span it too).
  const first = hist.timestamps.length ? hist.timestamps[0] : null;
  const span = first == null ? 0 : Date.now() / 1000 - first;
  view.lead.textContent = span < r.seconds - 2 * hist.step
    ? `Showing the last ${spanText(span)}: all there is since Toru started sampling.`
    : `Showing ${r.lead}.`;
}

/** 40 → "minute", 420 → "7 minutes", 7200 → "2 hours". */
function spanText(seconds) {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 90) return minutes === 1 ? 'minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  return `${hours} hours`;
}

function chooseInterface(view) {
  const names = Object.keys(view.hist.net);
  if (!names.includes(view.iface)) view.iface = busiestInterface(view.hist);
  const { select } = view.charts.get('network');
  const same = select.options.length === names.length && names.every((n, i) => select.options[i].value === n);
  if (!same) select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  select.value = view.iface || '';
  select.hidden = names.length < 2;
  view.charts.get('network').note.textContent = names.length === 1 ? names[0] : '';
}

function chartData(view, def) {
  return [view.hist.timestamps, ...def.values(view.hist, view)];
}

// Creates the chart, or gives it new data when its series and window are
// the same: they change with the range (the 24 h peak line), the core
// count or the chosen interface.
function drawChart(view, def) {
  const entry = view.charts.get(def.id);
  const hist = view.hist;
  if (def.note) entry.note.textContent = def.note(hist);
  const series = def.series(hist);
  const shape = JSON.stringify([view.range, view.iface, series]);
  if (entry.chart && entry.shape === shape) {
    entry.chart.setData(chartData(view, def));
    updateEmpty(view, entry);
    return;
  }
  if (entry.chart) entry.chart.destroy();
  entry.chart = null;
  entry.shape = shape;
  if (!series.length) {
    entry.body.dataset.points = '0';
    showEmpty(entry, 'Not measured yet.');
    return;
  }
  entry.chart = timeChart(entry.body, {
    series, format: def.format, axisFormat: def.axisFormat, range: def.range, incrs: def.incrs,
    height: window.matchMedia('(max-width: 560px)').matches ? 170 : 200, longDates: view.range === '24h',
    window: RANGES.find((r) => r.id === view.range).seconds,
  }, chartData(view, def));
  updateEmpty(view, entry);
}

function updateEmpty(view, entry) {
  const points = view.hist.timestamps.length;
  showEmpty(entry, points < 2
    ? 'Collecting data: the first points appear within a few seconds.' : null);
}

function showEmpty(entry, text) {
  entry.empty.hidden = !text;
  entry.empty.textContent = text || '';
}

function showFailure(view, err) {
  for (const entry of view.charts.values()) {
    showEmpty(entry, `The history could not be loaded: ${err.message}`);
  }
  view.lead.textContent = 'The history could not be loaded.';
  view.notice.replaceChildren(loadError(`The resource history could not be loaded: ${err.message}`, () => loadHistory(view)));
}

function onSample(view, sample) {
  if (view.signal.aborted || !view.hist || view.range !== '1h' || view.inflight) return;
  const change = appendSample(view.hist, sample);
  if (change === 'none') return;
  setLead(view, view.range, view.hist);
  if (change === 'shape') {
    chooseInterface(view);
    for (const def of CHARTS) drawChart(view, def);
    return;
  }
  for (const def of CHARTS) {
    const entry = view.charts.get(def.id);
    if (!entry.chart) continue;
    entry.chart.setData(chartData(view, def));
    updateEmpty(view, entry);
  }
}
