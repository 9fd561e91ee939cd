// A plugin's config (admins): its JSON object in a textarea, saved with
// PUT /api/plugins/:id/config. The browser only parses the text (it has to,
// to send it); what a config may be — an object, at most 64 KiB — is the
// server's rule, and its answer is shown under the field.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showToast } from '../../ui/toast.js';
import { formatDateTime } from '../../ui/format.js';
import { loadError } from '../../ui/load-error.js';

/** The config card for plugin `id`; requests end with `signal`; text not
 *  yet saved makes leaving the page ask first (`guardLeave`, the page's). */
export function configEditor(id, { signal, guardLeave }) {
  const url = `/api/plugins/${encodeURIComponent(id)}/config`;
  const field = h('textarea', {
    class: 'input plugin-config-text', id: 'plugin-config-text', rows: 10, spellcheck: 'false',
    'aria-describedby': 'plugin-config-help plugin-config-error', disabled: true,
  });
  const error = h('p', { class: 'field-error', id: 'plugin-config-error', role: 'alert', hidden: true });
  const saved = h('p', { class: 'field-help plugin-config-saved', dataset: { field: 'config-saved' } });
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', disabled: true }, 'Save config');
  const form = h('form', { class: 'plugin-config-form', novalidate: true, onSubmit: (event) => { event.preventDefault(); submit(); } },
    h('div', { class: 'field' },
      h('label', { for: 'plugin-config-text' }, 'Config (a JSON object)'),
      field,
      h('p', { class: 'field-help', id: 'plugin-config-help' },
        'Sent to the plugin when it starts and, while it runs, as soon as you save. At most 64 KiB.'),
      error),
    h('div', { class: 'plugin-config-actions' }, save, saved));
  const status = h('div', { class: 'muted' });
  const el = h('section', { class: 'card plugin-config', 'aria-labelledby': 'plugin-config-title' },
    h('h2', { class: 'card-title', id: 'plugin-config-title' }, icon('settings'), 'Configuration'),
    status, form);

  let savedText = null;
  guardLeave(() => savedText !== null && field.value !== savedText);

  function show(data) {
    field.value = JSON.stringify(data.config || {}, null, 2);
    savedText = field.value;
    saved.textContent = data.updated_at
      ? `Saved ${formatDateTime(data.updated_at)} by ${data.updated_by}.` : 'Never set: the plugin gets {}.';
  }

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    field.setAttribute('aria-invalid', 'true');
  }

  async function submit() {
    error.hidden = true;
    field.removeAttribute('aria-invalid');
    let config;
    try {
      config = JSON.parse(field.value);
    } catch (err) {
      fail(`Not valid JSON: ${err.message}`);
      field.focus();
      return;
    }
    save.disabled = true;
    try {
      show(await api.put(url, { config }, { signal }));
      showToast('Config saved', 'success');
    } catch (err) {
      if (signal.aborted || err.handled) return;
      fail(err.message);
      field.focus();
    } finally {
      save.disabled = false;
    }
  }

  const load = async () => {
    status.textContent = 'Loading the config…';
    try {
      show(await api.get(url, { signal }));
    } catch (err) {
      if (signal.aborted || err.handled) return;
      status.replaceChildren(loadError(`The config could not be loaded: ${err.message}`, load));
      return;
    }
    status.hidden = true;
    field.disabled = false;
    save.disabled = false;
  };
  load();
  return { el };
}
