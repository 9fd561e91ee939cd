// Settings → Quick actions, the action dialog's grant picker: who may see
// and run the action. `allowed_users` on the wire: null = every user,
// [] = admins only, [ids] = admins and those client users. Admins always
// may; the server enforces it on every path.
import { h } from '../../ui/dom.js';
import { api } from '../../api.js';
import { loadError } from '../../ui/load-error.js';
import { uid } from '../../ui/form.js';

const MODES = [
  ['everyone', 'Every user', 'Admins and every client user see the button.'],
  ['users', 'Chosen users', 'Admins, and the client users ticked below.'],
  ['admins', 'Admins only', 'Clients do not see it at all.'],
];

/** {element, value(), showError(message), clearError()}. */
export function grantPicker(initial, { signal = null } = {}) {
  const name = uid('qa-grant');
  const chosen = new Set(Array.isArray(initial) ? initial.map(String) : []);
  let mode = initial == null ? 'everyone' : initial.length ? 'users' : 'admins';
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const users = h('div', { class: 'qa-grant-users', 'aria-live': 'polite' });
  const note = h('p', { class: 'field-help qa-grant-note' });
  const panel = h('div', { class: 'qa-grant-panel' }, users, note);
  const radios = MODES.map(([value, label, help]) => h('label', { class: 'choice' },
    h('input', {
      type: 'radio', name, value, class: 'choice-input', checked: value === mode, dataset: { grant: value },
      onChange: () => {
        mode = value;
        error.hidden = true;
        show();
      },
    }),
    h('span', { class: 'choice-text' }, h('span', { class: 'choice-label' }, label), h('span', { class: 'choice-help' }, help))));
  const element = h('fieldset', { class: 'fieldset qa-grants' },
    h('legend', null, 'Who can run it'),
    h('div', { class: 'choices qa-grant-modes' }, radios),
    panel, error);

  let loaded = false;
  function show() {
    panel.hidden = mode !== 'users';
    if (mode === 'users' && !loaded) load();
    updateNote();
  }

  function updateNote() {
    const n = chosen.size;
    note.textContent = n ? `${n} ${n === 1 ? 'user' : 'users'} chosen, and every admin.`
      : 'Nobody ticked: only admins can run it.';
  }

  async function load() {
    loaded = true;
    users.setAttribute('aria-busy', 'true');
    users.replaceChildren(h('p', { class: 'field-help' }, 'Loading users…'));
    let data;
    try {
      data = await api.get('/api/users', { signal });
    } catch (err) {
      if (err.name === 'AbortError' || err.handled) return;
      loaded = false;
      users.removeAttribute('aria-busy');
      users.replaceChildren(loadError(`The users could not be listed: ${err.message}`, load));
      return;
    }
    users.removeAttribute('aria-busy');
    const clients = (Array.isArray(data.users) ? data.users : []).filter((u) => u.role !== 'admin');
    const known = new Set(clients.map((u) => String(u.id)));
    // Ids the action names but the list lacks stay ticked, so saving other
    // changes does not drop them silently.
    const gone = [...chosen].filter((id) => !known.has(id)).map((id) => ({ id, username: `User #${id}`, missing: true }));
    const rows = [...clients, ...gone];
    if (!rows.length) {
      users.replaceChildren(h('p', { class: 'field-help' }, 'There are no client users yet. Add them in Settings → Users.'));
      return;
    }
    users.replaceChildren(h('ul', { class: 'qa-grant-list' }, rows.map(userChoice)));
  }

  function userChoice(user) {
    const id = String(user.id);
    const shown = user.display_name && user.display_name !== user.username ? user.display_name : user.username;
    return h('li', null, h('label', { class: 'choice qa-grant-user', dataset: { userId: id } },
      h('input', {
        type: 'checkbox', class: 'choice-input', value: id, checked: chosen.has(id),
        onChange: (event) => {
          if (event.currentTarget.checked) chosen.add(id);
          else chosen.delete(id);
          error.hidden = true;
          updateNote();
        },
      }),
      h('span', { class: 'choice-text' },
        h('span', { class: 'choice-label' }, shown),
        h('span', { class: 'choice-help' }, [
          shown !== user.username ? user.username : null,
          user.missing ? 'not found' : null,
          user.active === false ? 'inactive' : null,
        ].filter(Boolean).join(' · ') || 'Client'))));
  }

  show();
  return {
    element,
    value() {
      if (mode === 'everyone') return null;
      if (mode === 'admins') return [];
      return [...chosen].map((id) => (/^\d+$/.test(id) ? Number(id) : id));
    },
    showError(message) {
      error.textContent = message;
      error.hidden = false;
    },
    clearError() {
      error.hidden = true;
    },
  };
}
