// Settings → Instance (admin): what identifies this installation.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showError } from '../../ui/toast.js';
import { copyText } from '../../ui/clipboard.js';
import { formatAgo, formatDateTime, isoTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';

export function render(container, ctx) {
  const body = h('div', { class: 'card-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  container.append(h('section', { class: 'card card-flush card-narrow-lg', 'aria-labelledby': 'instance-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'instance-title' }, icon('server'), 'Instance'),
        h('p', { class: 'card-lead' }, 'The instance ID identifies this installation, for example to plugins and in support requests.'))),
    body));

  async function load() {
    let data;
    try {
      data = await api.get('/api/instance', { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) return;
      body.removeAttribute('aria-busy');
      body.replaceChildren(loadError(`The instance details could not be loaded: ${err.message}`, load));
      showError(err, 'Instance');
      return;
    }
    body.removeAttribute('aria-busy');
    const id = h('code', { class: 'copy-value', id: 'instance-id' }, data.instance_id);
    const notices = (data.notices || []).map((notice) => h('p', {
      class: 'notice notice-warning', role: 'status', dataset: { notice: notice.code },
    }, icon('error', 'notice-icon'), h('span', null, notice.message)));
    body.replaceChildren(notices.length ? h('div', { class: 'instance-notices' }, ...notices) : '', h('dl', { class: 'kv kv-wide' },
      h('dt', null, 'Instance ID'),
      h('dd', { class: 'copy-row' }, id,
        h('button', { type: 'button', class: 'btn btn-sm', onClick: () => copyText(id) }, icon('copy'), 'Copy')),
      h('dt', null, 'Version'), h('dd', { dataset: { instance: 'version' } }, data.version),
      h('dt', null, 'Data directory'), h('dd', null, h('code', { class: 'path' }, data.data_dir)),
      h('dt', null, 'Started'),
      h('dd', null, h('time', { datetime: isoTime(data.started_at) }, formatDateTime(data.started_at)),
        h('span', { class: 'muted' }, ` (${formatAgo(data.started_at)})`))));
  }
  load();
}
