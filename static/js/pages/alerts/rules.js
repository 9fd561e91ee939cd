// The rules card of the Alerts page (admins): every rule with its condition
// in words, severity, channels, an enable switch, Edit and Delete; "New
// rule" opens rule-editor.js with the catalogue (GET /api/alerts/catalogue).
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { confirmDialog } from '../../ui/dialog.js';
import { listLoader } from '../../ui/list-loader.js';
import { iconBusy, iconButton } from '../../ui/buttons.js';
import { showError, showToast } from '../../ui/toast.js';
import { openRuleEditor } from './rule-editor.js';
import { KINDS, conditionText, severityBadge } from './words.js';

/** {el, load()}; `channels()` gives the channels the page knows now. */
export function rulesCard({ signal, channels, onChange }) {
  const count = h('span', { class: 'card-count' });
  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite' }, h('p', { class: 'table-note' }, 'Loading rules…'));
  const load = listLoader(list, { signal, what: 'The alert rules', title: 'Alert rules', retry: () => reload() });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', onClick: () => edit(null) },
    icon('plus'), h('span', null, 'New rule'));
  let rules = [];

  async function reload() {
    const data = await load('/api/alerts/rules');
    if (!data) return;
    rules = data.rules || [];
    render();
  }

  function render() {
    count.textContent = String(rules.length);
    if (!rules.length) {
      list.replaceChildren(h('p', { class: 'table-note', dataset: { empty: 'rules' } },
        'No rules yet. A rule says what to watch: a disk filling up, a failed backup, a crashing plugin.'));
      return;
    }
    const names = new Map(channels().map((ch) => [ch.id, ch.name]));
    list.replaceChildren(h('table', { class: 'table table-cards alert-rules-table' },
      h('caption', { class: 'visually-hidden' }, 'Alert rules, by name'),
      h('thead', null, h('tr', null, ['Rule', 'Severity', 'Channels', 'Enabled'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', null, rules.map((rule) => ruleRow(rule, names)))));
  }

  function ruleRow(rule, names) {
    const toggle = h('input', {
      type: 'checkbox', role: 'switch', class: 'switch-input', checked: rule.enabled, 'aria-label': `${rule.name} enabled`,
      onChange: () => setEnabled(rule, toggle),
    });
    const sendTo = rule.channels.map((id) => names.get(id) || `#${id}`);
    return h('tr', { class: 'alert-rule-row', dataset: { rule: rule.name, ruleId: rule.id } },
      h('td', { class: 'cell-primary' }, h('div', { class: 'script-cell' },
        h('span', { class: 'script-name' }, rule.name),
        h('span', { class: 'script-description', dataset: { condition: '' } }, `${KINDS[rule.kind] || rule.kind}: ${conditionText(rule)}`))),
      h('td', { dataset: { label: 'Severity' } }, severityBadge(rule.severity)),
      h('td', { dataset: { label: 'Channels' } }, sendTo.length ? sendTo.join(', ') : h('span', { class: 'muted' }, 'None (shown in Toru only)')),
      h('td', { dataset: { label: 'Enabled' } },
        h('label', { class: 'switch' }, toggle, h('span', { class: 'switch-track', 'aria-hidden': 'true' }))),
      h('td', { class: 'cell-actions' },
        iconButton('edit', `Edit ${rule.name}`, null, false, () => edit(rule)),
        iconButton('trash', `Delete ${rule.name}`, 'icon-button-danger', false, (b) => remove(rule, b))));
  }

  async function setEnabled(rule, toggle) {
    toggle.disabled = true;
    try {
      await api.put(`/api/alerts/rules/${rule.id}`, { enabled: toggle.checked }, { signal });
      showToast(toggle.checked ? `${rule.name} is enabled.` : `${rule.name} is disabled: it watches nothing.`, 'success');
    } catch (err) {
      toggle.checked = !toggle.checked;
      showError(err, `${rule.name} could not be changed`);
    } finally {
      toggle.disabled = false;
    }
    reload();
    onChange();
  }

  async function edit(rule) {
    let catalogue;
    try {
      catalogue = await api.get('/api/alerts/catalogue', { signal });
    } catch (err) {
      showError(err, 'The rule editor could not open');
      return;
    }
    const saved = await openRuleEditor(rule, { catalogue, channels: channels(), signal });
    if (!saved || signal.aborted) return;
    showToast(rule ? `Saved ${saved.name}.` : `Created the rule ${saved.name}.`, 'success');
    reload();
    onChange();
  }

  async function remove(rule, button) {
    const ok = await confirmDialog(`Delete the rule “${rule.name}”? Its alerts end without a notification; the history stays.`,
      { title: 'Delete rule', confirmLabel: 'Delete', danger: true });
    if (!ok || signal.aborted) return;
    const done = iconBusy(button);
    try {
      await api.del(`/api/alerts/rules/${rule.id}`, { signal });
    } catch (err) {
      done();
      showError(err, `Deleting ${rule.name} failed`);
      return;
    }
    showToast(`Deleted the rule ${rule.name}.`, 'success');
    reload();
    onChange();
  }

  const el = h('section', { class: 'card card-flush', 'aria-labelledby': 'alert-rules-title', dataset: { editor: 'rules' } },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'alert-rules-title' }, icon('list'), 'Rules', count),
        h('p', { class: 'card-lead' }, 'What to watch, how bad it is, and which channels hear of it.')),
      newButton),
    list);
  return { el, load: reload, rules: () => rules };
}
