// The channels card of the Alerts page (admins): each channel with its type,
// its last delivery in words, "Send test" (the result in words, under the
// channel), Edit and Delete (refused while rules send to it: the answer
// names them). The editor is channel-editor.js.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { confirmDialog } from '../../ui/dialog.js';
import { listLoader } from '../../ui/list-loader.js';
import { busy } from '../../ui/form.js';
import { iconBusy, iconButton } from '../../ui/buttons.js';
import { showError, showToast } from '../../ui/toast.js';
import { formatAgo, formatDateTime } from '../../ui/format.js';
import { PRESETS, TYPES, openChannelEditor } from './channel-editor.js';

/** {el, load(), channels()}; onChange() after anything changed or was sent. */
export function channelsCard({ signal, onChange }) {
  const count = h('span', { class: 'card-count' });
  const note = h('p', { class: 'card-lead', hidden: true, dataset: { unavailable: '' } });
  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite' }, h('p', { class: 'table-note' }, 'Loading channels…'));
  const load = listLoader(list, { signal, what: 'The channels', title: 'Alert channels', retry: () => reload() });
  const results = new Map(); // channel id → the last test's answer, shown until the next load of that row
  let channels = [];
  let types = {};

  async function reload() {
    const data = await load('/api/alerts/channels');
    if (!data) return;
    channels = data.channels || [];
    types = data.types || {};
    const off = Object.entries(types).filter(([, info]) => !info.available);
    note.hidden = !off.length;
    // Each reason names its type ("Apprise is not installed: …").
    note.textContent = off.map(([, info]) => info.reason).join(' ');
    render();
  }

  function render() {
    count.textContent = String(channels.length);
    if (!channels.length) {
      list.replaceChildren(h('p', { class: 'table-note', dataset: { empty: 'channels' } },
        'No channels yet. Add a webhook, a chat, ntfy or an email address, then choose it in a rule.'));
      return;
    }
    list.replaceChildren(h('ul', { class: 'alert-channel-list' }, channels.map(channelRow)));
  }

  function channelRow(channel) {
    const kind = channel.type === 'webhook'
      ? `Webhook · ${PRESETS[channel.config.preset] || channel.config.preset}` : TYPES[channel.type] || channel.type;
    const result = h('p', { class: 'channel-result', dataset: { testResult: '' }, 'aria-live': 'polite' });
    const shown = results.get(channel.id) || channel.last_delivery;
    if (shown) showResult(result, shown, results.has(channel.id));
    const test = h('button', {
      type: 'button', class: 'btn btn-sm', dataset: { sendTest: '' }, disabled: !channel.available,
      onClick: () => sendTest(channel, test, result),
    }, icon('play'), h('span', null, 'Send test'));
    return h('li', { class: 'alert-channel', dataset: { channel: channel.name, channelId: channel.id } },
      h('div', { class: 'alert-channel-main' },
        h('div', { class: 'alert-item-head' }, h('span', { class: 'alert-name' }, channel.name),
          h('span', { class: 'badge badge-sm badge-neutral' }, kind),
          channel.available ? null : h('span', { class: 'badge badge-sm badge-warning' }, 'Not available')),
        result),
      h('div', { class: 'alert-channel-actions' }, test,
        iconButton('edit', `Edit ${channel.name}`, null, false, () => edit(channel)),
        iconButton('trash', `Delete ${channel.name}`, 'icon-button-danger', false, (b) => remove(channel, b))));
  }

  async function sendTest(channel, button, result) {
    const done = busy(button, 'Sending…');
    let data;
    try {
      data = await api.post(`/api/alerts/channels/${channel.id}/test`, {}, { signal });
    } catch (err) {
      done();
      showError(err, `The test of ${channel.name} was not sent`);
      return;
    }
    done();
    results.set(channel.id, { ok: data.ok, result: data.result, at: data.delivery ? data.delivery.at : Date.now() / 1000 });
    showResult(result, results.get(channel.id), true);
    onChange();
  }

  async function edit(channel) {
    const saved = await openChannelEditor(channel, { types, signal });
    if (!saved || signal.aborted) return;
    showToast(channel ? `Saved ${saved.name}.` : `Created the channel ${saved.name}. Send a test to check it.`, 'success');
    await reload();
    onChange();
  }

  async function remove(channel, button) {
    const ok = await confirmDialog(`Delete the channel “${channel.name}”? Its delivery records go with it.`,
      { title: 'Delete channel', confirmLabel: 'Delete', danger: true });
    if (!ok || signal.aborted) return;
    const done = iconBusy(button);
    try {
      await api.del(`/api/alerts/channels/${channel.id}`, { signal });
    } catch (err) {
      done();
      const rules = err.data && Array.isArray(err.data.rules) ? err.data.rules : [];
      showError(rules.length
        ? { message: `rules ${rules.map((r) => `“${r.name}”`).join(', ')} still send to it: remove it from them first` } : err,
      `${channel.name} was not deleted`);
      return;
    }
    showToast(`Deleted the channel ${channel.name}.`, 'success');
    await reload();
    onChange();
  }

  const el = h('section', { class: 'card card-flush', 'aria-labelledby': 'alert-channels-title', dataset: { editor: 'channels' } },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'alert-channels-title' }, icon('mail'), 'Channels', count),
        h('p', { class: 'card-lead' }, 'Where notifications go. Secrets are never shown again once saved.'),
        note),
      h('button', { type: 'button', class: 'btn btn-primary', onClick: () => edit(null) },
        icon('plus'), h('span', null, 'New channel'))),
    list);
  return { el, load: reload, channels: () => channels };
}

function showResult(el, { ok, result, at }, fresh) {
  el.className = `channel-result ${ok ? 'channel-result-ok' : 'channel-result-failed'}`;
  el.dataset.ok = String(Boolean(ok));
  el.replaceChildren(icon(ok ? 'success' : 'error', 'channel-result-icon'),
    h('span', null, fresh ? 'Test: ' : 'Last delivery: ', result),
    at ? h('span', { class: 'time-ago', title: formatDateTime(at) }, ` · ${formatAgo(at)}`) : null);
}
