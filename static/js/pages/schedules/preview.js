// The editor's live preview: while the cron expression or the time zone is
// typed, GET /api/schedules/preview (debounced) says in words when the
// schedule runs and lists its next five runs, on the clock of its zone and
// relative to now; a refused expression shows the server's words under the
// field. Each request aborts the one before it, so a slow answer never
// replaces a newer one. The server alone knows cron: nothing is parsed here.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { formatZoned } from '../../ui/format.js';
import { every, later, scope } from '../../lifetime.js';
import { dueTime, refreshTimes } from './time.js';

const DELAY_MS = 250;
const TICK_MS = 30_000;

/**
 * cronPreview({cron, timezone, defaultTimezone, signal}) → {el, errors:
 * {cron, timezone} (p.field-error elements for the fields), hideErrors(),
 * now()}. `cron` and `timezone` are the editor's inputs; it ends with `signal`.
 */
export function cronPreview({ cron, timezone, defaultTimezone, signal }) {
  const titleId = `${cron.id}-preview`;
  const description = h('p', { class: 'schedule-preview-description', dataset: { previewDescription: '' } });
  const runs = h('ol', { class: 'schedule-preview-runs', dataset: { previewRuns: '' } });
  const note = h('p', { class: 'schedule-preview-note' });
  const el = h('section', { class: 'schedule-preview', 'aria-labelledby': titleId, dataset: { preview: '' } },
    h('h3', { class: 'schedule-preview-title', id: titleId }, icon('schedules'), 'Next runs'),
    h('div', { 'aria-live': 'polite' }, description, runs, note));
  const errors = {
    cron: h('p', { class: 'field-error', id: `${cron.id}-preview-error`, hidden: true, dataset: { cronError: '' } }),
    timezone: h('p', { class: 'field-error', id: `${timezone.id}-preview-error`, hidden: true }),
  };
  const inputs = { cron, timezone };
  let cancelWait = () => {};
  let inflight = null;

  function showError(name, message) {
    for (const [key, p] of Object.entries(errors)) {
      const input = inputs[key];
      const on = key === name;
      const was = !p.hidden;
      p.textContent = on ? message : '';
      p.hidden = !on;
      const described = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== p.id);
      if (on) described.push(p.id);
      if (described.length) input.setAttribute('aria-describedby', described.join(' '));
      else input.removeAttribute('aria-describedby');
      if (on) input.setAttribute('aria-invalid', 'true');
      else if (was) input.removeAttribute('aria-invalid');
    }
  }

  function blank(text) {
    description.textContent = text;
    description.classList.add('muted');
    runs.replaceChildren();
    note.textContent = '';
  }

  async function run() {
    cancelWait();
    if (inflight) inflight.abort();
    inflight = null;
    const expression = cron.value.trim();
    const zone = timezone.value.trim();
    if (!expression) {
      showError(null);
      blank('Enter a cron expression or pick a preset to see when it runs.');
      el.removeAttribute('aria-busy');
      return;
    }
    const controller = scope(signal);
    inflight = controller;
    el.setAttribute('aria-busy', 'true');
    const query = new URLSearchParams({ cron: expression });
    if (zone) query.set('timezone', zone);
    let data;
    try {
      data = await api.get(`/api/schedules/preview?${query}`, { signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted || err.handled) return;
      const fields = err.data && typeof err.data === 'object' && err.data.fields ? err.data.fields : {};
      if (err.status === 400) {
        // About the zone when the server says so, else the expression.
        const name = fields.timezone && !fields.cron ? 'timezone' : 'cron';
        showError(name, String(fields[name] || err.message));
        blank(name === 'cron' ? 'No runs: the expression is not valid.' : 'No runs: the time zone is not known.');
      } else {
        showError(null);
        blank(`The preview could not be loaded: ${err.message}`);
      }
      return;
    } finally {
      if (inflight === controller) {
        inflight = null;
        el.removeAttribute('aria-busy');
      }
      controller.abort(); // done: let go of the editor's signal
    }
    showError(null);
    render(data, zone || defaultTimezone);
  }

  function render(data, zone) {
    const next = Array.isArray(data.next) ? data.next : [];
    description.textContent = data.description || '';
    description.classList.remove('muted');
    runs.replaceChildren(...next.map((rfc) => h('li', { class: 'schedule-preview-run' },
      h('span', { class: 'schedule-preview-when' }, formatZoned(rfc)),
      dueTime(rfc, 'schedule-preview-in'))));
    note.textContent = next.length ? `Times in ${zone}.` : 'No date matches: it would never run.';
  }

  const soon = () => {
    cancelWait();
    cancelWait = later(signal, DELAY_MS, run);
  };
  for (const input of [cron, timezone]) input.addEventListener('input', soon);
  every(signal, TICK_MS, () => refreshTimes(runs));
  run();

  return {
    el,
    errors,
    /** Hides the preview's messages (the server's answer to Save shows its own). */
    hideErrors: () => showError(null),
    /** Asks now instead of after the typing pause (a preset was picked). */
    now: run,
  };
}
