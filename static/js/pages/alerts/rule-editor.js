// The alert rule editor, a dialog (admins): name, kind, the kind's condition,
// severity, channels, repeat, resolved notifications, enabled. For a metric
// rule the picker shows the metric's current value (GET /api/alerts/catalogue,
// read again every few seconds) next to the threshold, and offers the
// mounts or interfaces it has now. The server checks everything; the
// `fields` of a 400 (`name`, `condition.threshold`…) land under their inputs.
import { h } from '../../ui/dom.js';
import { api } from '../../api.js';
import { modal } from '../../ui/dialog.js';
import { formError, saveRecord } from '../../ui/form.js';
import { fieldErrors, showSubmitError } from '../../ui/field-errors.js';
import { every, scope } from '../../lifetime.js';
import {
  checkbox, checkGroup, field, numberInput, readList, readNumber, select, textInput,
} from './fields.js';
import {
  KINDS, METRICS, OPS, PLUGIN_EVENTS, SECURITY_EVENTS, SEVERITIES, TASK_STATUSES, formatValue, labelText, metricLabel,
} from './words.js';

const CATALOGUE_EVERY_MS = 5000;
const UNITS = { percent: '%', rate: 'bytes/s', number: '' };

/** Resolves to the saved rule, or undefined when closed without saving. */
export function openRuleEditor(rule, { catalogue, channels, signal }) {
  const life = scope(signal);
  return modal({
    title: rule ? `Edit ${rule.name}` : 'New alert rule',
    description: rule ? null : 'What to watch, how bad it is, and where to say so.',
    className: 'dialog-wide',
  }, (close) => ruleForm(rule, { catalogue, channels, signal: life.signal, close }))
    .finally(() => life.abort());
}

function ruleForm(rule, { catalogue, channels, signal, close }) {
  const kind = rule ? rule.kind : 'metric';
  const c = rule ? rule.condition : {};
  const inputs = {
    name: textInput('name', rule ? rule.name : '', { autofocus: true, maxlength: 100 }),
    kind: select('kind', catalogue.kinds.map((k) => [k, KINDS[k] || k]), kind),
    severity: select('severity', catalogue.severities.map((s) => [s, SEVERITIES[s] || s]), rule ? rule.severity : 'warning'),
    repeat_minutes: numberInput('repeat_minutes', rule ? rule.repeat_minutes : 0, { min: 0, max: 10080, step: 1 }),
  };
  const chosen = checkGroup('channels', 'Send to', channels.map((ch) => [ch.id, `${ch.name} (${ch.type})`]),
    rule ? rule.channels : [], { empty: 'No channels yet: add one under Channels, then choose it here. Without one, alerts only show in Toru.' });
  const resolved = checkbox('notify_resolved', 'Say when it resolves', rule ? rule.notify_resolved : true);
  const enabled = checkbox('enabled', 'Enabled', rule ? rule.enabled : true, 'A disabled rule watches nothing.');
  const sections = {
    metric: metricSection(kind === 'metric' ? c : {}, catalogue, signal),
    task_failed: taskSection(kind === 'task_failed' ? c : {}),
    plugin: pluginSection(kind === 'plugin' ? c : {}, catalogue),
    security: securitySection(kind === 'security' ? c : {}),
  };
  const conditionBox = h('div', { class: 'field alert-condition', id: `${inputs.kind.id}-condition` },
    Object.values(sections).map((s) => s.el));
  const common = fieldErrors({
    ...inputs, channels: chosen.input, notify_resolved: resolved.input, enabled: enabled.input, condition: conditionBox,
  });
  const error = formError();
  const showKind = () => {
    for (const [k, s] of Object.entries(sections)) s.el.hidden = k !== inputs.kind.value;
  };
  inputs.kind.addEventListener('change', showKind);
  showKind();

  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, rule ? 'Save changes' : 'Create rule');
  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    common.clear();
    for (const s of Object.values(sections)) s.errors.clear();
    const body = {
      name: inputs.name.value.trim(),
      kind: inputs.kind.value,
      condition: sections[inputs.kind.value].read(),
      severity: inputs.severity.value,
      channels: chosen.read().map(Number),
      repeat_minutes: readNumber(inputs.repeat_minutes) ?? 0,
      notify_resolved: resolved.input.checked,
      enabled: enabled.input.checked,
    };
    const data = await saveRecord({
      submit, path: '/api/alerts/rules', id: rule ? rule.id : null, body, signal,
      onError: (err) => showSubmitError(err, { error, errors: common, notDone: 'Not saved', marked: 'above',
        sections: [{ prefix: 'condition.', errors: sections[inputs.kind.value].errors }] }),
    });
    if (data) close(data.rule);
  }

  return h('form', { class: 'form alert-rule-form', noValidate: true, onSubmit },
    h('div', { class: 'alert-form-row' }, field('Name', inputs.name), field('Kind', inputs.kind)),
    conditionBox,
    h('div', { class: 'alert-form-row' },
      field('Severity', inputs.severity, 'Critical alerts put a banner on every page while they fire.'),
      field('Repeat every (minutes)', inputs.repeat_minutes, 'Notify again while it fires; 0: once.')),
    chosen.el,
    h('div', { class: 'choices' }, resolved.el, enabled.el),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'), submit));
}

// --- metric -----------------------------------------------------------------------------
function metricSection(c, catalogue, signal) {
  let metrics = catalogue.metrics;
  const byName = (name) => metrics.find((m) => m.metric === name) || { metric: name, label: null, current: [] };
  const inputs = {
    'condition.metric': select('condition.metric', metrics.map((m) => [m.metric, metricLabel(m.metric)]), c.metric || 'cpu_percent'),
    'condition.labels': select('condition.labels', [], ''),
    'condition.op': select('condition.op', catalogue.ops.map((op) => [op, `${op}  (${OPS[op] || op})`]), c.op || '>='),
    'condition.threshold': numberInput('condition.threshold', c.threshold, { step: 'any' }),
    'condition.for_seconds': numberInput('condition.for_seconds', c.for_seconds ?? 60, { min: 0, max: 86400, step: 1 }),
  };
  const metricInput = inputs['condition.metric'];
  const labelInput = inputs['condition.labels'];
  const unit = h('span', { class: 'input-unit-label' });
  const now = h('span', { class: 'metric-now', dataset: { current: '' }, 'aria-live': 'polite' });
  const labelField = field('Which', labelInput);
  let wantedLabel = c.labels ? Object.values(c.labels)[0] || '' : '';

  function fillLabels() {
    const m = byName(metricInput.value);
    labelField.hidden = !m.label;
    if (!m.label) return;
    labelField.querySelector('label').textContent = m.label === 'mount' ? 'Mount' : 'Interface';
    const values = m.current.map((cur) => cur.labels[m.label]).filter(Boolean);
    if (wantedLabel && !values.includes(wantedLabel)) values.push(wantedLabel);
    labelInput.replaceChildren(h('option', { value: '' }, `Every ${m.label} (one alert each)`),
      ...values.map((v) => h('option', { value: v, selected: v === wantedLabel }, v)));
  }
  function showNow() {
    const m = byName(metricInput.value);
    unit.textContent = UNITS[(METRICS[m.metric] || [null, 'number'])[1]];
    const key = m.label;
    const shown = m.current.filter((cur) => !key || !labelInput.value || cur.labels[key] === labelInput.value);
    now.textContent = shown.length
      ? `Now: ${shown.map((cur) => `${formatValue(m.metric, cur.value)}${labelText(cur.labels) ? ` (${labelText(cur.labels)})` : ''}`).join(', ')}`
      : 'Now: no value yet';
  }
  metricInput.addEventListener('change', () => { wantedLabel = ''; fillLabels(); showNow(); });
  labelInput.addEventListener('change', () => { wantedLabel = labelInput.value; showNow(); });
  fillLabels();
  showNow();
  every(signal, CATALOGUE_EVERY_MS, async () => {
    try {
      const fresh = await api.get('/api/alerts/catalogue', { signal });
      metrics = fresh.metrics;
      showNow();
    } catch {
      // The value shown stays; the next tick tries again.
    }
  });

  const threshold = inputs['condition.threshold'];
  threshold.setAttribute('aria-describedby', `${threshold.id}-now`);
  now.id = `${threshold.id}-now`;
  const el = h('div', { class: 'alert-kind-section', dataset: { kindSection: 'metric' } },
    h('div', { class: 'alert-form-row' }, field('Metric', metricInput), labelField),
    h('div', { class: 'alert-form-row' },
      field('When it is', inputs['condition.op']),
      h('div', { class: 'field' }, h('label', { for: threshold.id }, 'Threshold'),
        h('div', { class: 'input-with-unit' }, threshold, unit, now))),
    field('For (seconds)', inputs['condition.for_seconds'],
      'How long it must hold before it fires, and be over before it resolves. 0: at once.'));
  return {
    el,
    errors: fieldErrors(inputs),
    read() {
      const m = byName(metricInput.value);
      const condition = {
        metric: metricInput.value, op: inputs['condition.op'].value,
        threshold: readNumber(threshold), for_seconds: readNumber(inputs['condition.for_seconds']),
        labels: m.label && labelInput.value ? { [m.label]: labelInput.value } : {},
      };
      return condition;
    },
  };
}

// --- task_failed ------------------------------------------------------------------------
function taskSection(c) {
  const statuses = checkGroup('condition.statuses', 'When a run ends',
    Object.entries(TASK_STATUSES), c.statuses || Object.keys(TASK_STATUSES));
  const inputs = {
    'condition.statuses': statuses.input,
    'condition.scripts': textInput('condition.scripts', (c.scripts || []).join(', '), { placeholder: 'backup.sh, deploy.sh' }),
    'condition.quick_action_ids': textInput('condition.quick_action_ids', (c.quick_action_ids || []).join(', ')),
  };
  const scheduled = checkbox('condition.scheduled_only', 'Scheduled runs only', c.scheduled_only);
  inputs['condition.scheduled_only'] = scheduled.input;
  const el = h('div', { class: 'alert-kind-section', dataset: { kindSection: 'task_failed' } },
    statuses.el,
    h('div', { class: 'alert-form-row' },
      field('Scripts', inputs['condition.scripts'], 'Empty: any script. Names separated by commas.'),
      field('Quick action ids', inputs['condition.quick_action_ids'], 'Empty: any quick action.')),
    scheduled.el);
  return {
    el,
    errors: fieldErrors(inputs),
    read: () => ({
      statuses: statuses.read(), scripts: readList(inputs['condition.scripts']),
      quick_action_ids: readList(inputs['condition.quick_action_ids']), scheduled_only: scheduled.input.checked,
    }),
  };
}

// --- plugin -----------------------------------------------------------------------------
function pluginSection(c, catalogue) {
  const event = select('condition.event', catalogue.plugin_events.map((e) => [e, PLUGIN_EVENTS[e] || e]), c.event || 'crash_loop');
  const plugins = checkGroup('condition.plugins', 'Plugins', catalogue.plugins.map((p) => [p, p]), c.plugins || [],
    { empty: 'No plugins are installed: the rule watches every plugin.', help: 'None chosen: every plugin.' });
  const hold = numberInput('condition.for_seconds', c.for_seconds ?? 60, { min: 0, max: 86400, step: 1 });
  const holdField = field('Unhealthy for (seconds)', hold, 'How long it must be unhealthy before it fires.');
  const showHold = () => { holdField.hidden = event.value === 'notify'; };
  event.addEventListener('change', showHold);
  showHold();
  const inputs = { 'condition.event': event, 'condition.plugins': plugins.input, 'condition.for_seconds': hold };
  return {
    el: h('div', { class: 'alert-kind-section', dataset: { kindSection: 'plugin' } },
      h('div', { class: 'alert-form-row' }, field('When a plugin', event), holdField), plugins.el),
    errors: fieldErrors(inputs),
    read() {
      const condition = { event: event.value, plugins: plugins.read() };
      if (event.value !== 'notify') condition.for_seconds = readNumber(hold);
      return condition;
    },
  };
}

// --- security ---------------------------------------------------------------------------
function securitySection(c) {
  const events = checkGroup('condition.events', 'When', Object.entries(SECURITY_EVENTS), c.events || Object.keys(SECURITY_EVENTS));
  return {
    el: h('div', { class: 'alert-kind-section', dataset: { kindSection: 'security' } }, events.el),
    errors: fieldErrors({ 'condition.events': events.input }),
    read: () => ({ events: events.read() }),
  };
}
