// Settings → Users (admin): list, add, reset password, change role,
// activate/deactivate, delete, reset two-factor sign-in, see and end their
// sessions; and whether admins
// must have two-factor sign-in. The env admin (id 0) is listed but is the
// server's own (ADMIN_USERNAME): only its two-factor sign-in can be reset here.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { getUser, setUser } from '../../session.js';
import { confirmDialog, modal } from '../../ui/dialog.js';
import { menuButton } from '../../ui/menu.js';
import { showError, showToast } from '../../ui/toast.js';
import { fieldErrors, showSubmitError } from '../../ui/field-errors.js';
import { formatAgo, formatDate, formatDateTime, isoTime } from '../../ui/format.js';
import { ROLE_LABELS, avatar } from '../../ui/layout.js';
import { listLoader } from '../../ui/list-loader.js';
import { busy, formError, uid } from '../../ui/form.js';
import { lengthProblem, openChangePasswordDialog, passwordHints, passwordInput } from '../../ui/password.js';

const ROLE_HELP = {
  client: 'Dashboard, System Monitor, quick actions, plugins and their own account.',
  admin: 'Everything, including scripts, history, users and settings.',
};

export function render(container, ctx) {
  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' }, loadingNote('Loading users…'));
  const count = h('span', { class: 'card-count' });
  container.append(h('div', { class: 'stack' }, h('section', { class: 'card card-flush', 'aria-labelledby': 'users-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'users-title' }, icon('users'), 'Users', count),
        h('p', { class: 'card-lead' }, 'People who can sign in to this server. Clients see the dashboard, monitor, quick actions and plugins; admins see everything.')),
      h('button', { type: 'button', class: 'btn btn-primary', onClick: () => openAddUser(reload) }, icon('plus'), 'Add user')),
    list),
    requireTwoFactorCard(ctx)));

  const load = listLoader(list, { signal: ctx.signal, what: 'The users', title: 'Users', retry: () => reload() });
  async function reload() {
    const data = await load('/api/users');
    if (!data) return;
    count.textContent = String(data.users.length);
    list.replaceChildren(usersTable(data.users, reload));
  }
  reload();
}

function usersTable(users, reload) {
  const me = getUser();
  return h('table', { class: 'table table-cards users-table' },
    h('caption', { class: 'visually-hidden' }, 'Users'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'User'),
      h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col', class: 'cell-actions' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', null, users.map((user) => userRow(user, me, reload))));
}

function userRow(user, me, reload) {
  const self = me && me.id === user.id && me.username === user.username;
  return h('tr', { dataset: { username: user.username }, class: user.active ? null : 'row-muted' },
    h('td', { class: 'cell-primary' },
      h('div', { class: 'user-cell' },
        avatar(user.display_name || user.username),
        h('div', { class: 'user-cell-text' },
          h('span', { class: 'user-cell-name', dataset: { displayName: '' } }, user.display_name,
            self ? h('span', { class: 'badge badge-neutral badge-sm' }, 'You') : null),
          h('span', { class: 'user-cell-sub' }, user.username)))),
    h('td', { dataset: { label: 'Role' } }, roleBadge(user.role)),
    h('td', { dataset: { label: 'Status' } }, h('span', { class: 'user-badges' }, user.active
      ? h('span', { class: 'badge badge-success' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Active')
      : h('span', { class: 'badge badge-neutral' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), 'Inactive'),
    user.totp_enabled
      ? h('span', { class: 'badge badge-primary', title: 'Two-factor sign-in is on', dataset: { totp: '' } },
        icon('shield', 'badge-icon'), '2FA')
      : null)),
    h('td', { dataset: { label: 'Created' } }, user.source === 'env'
      ? h('span', { class: 'muted' }, 'Set by environment')
      : h('time', { datetime: isoTime(user.created_at), title: formatDateTime(user.created_at) }, formatDate(user.created_at))),
    h('td', { class: 'cell-actions' }, actions(user, self, reload)));
}

export function roleBadge(role) {
  return role === 'admin'
    ? h('span', { class: 'badge badge-primary' }, icon('shield', 'badge-icon'), ROLE_LABELS.admin)
    : h('span', { class: 'badge badge-neutral' }, ROLE_LABELS[role] || role);
}

// Where the environment admin's password comes from (the server says which).
const ENV_ADMIN_NOTES = {
  environment: 'The server\'s administrator: its password is ADMIN_PASSWORD in the server\'s environment; it cannot be changed here.',
  generated: 'The server\'s administrator: its password was generated at first start and printed on the console; '
    + 'it can change it under My account, or reset it with reset-admin-password on the server.',
  reset: 'The server\'s administrator: its password was set by reset-admin-password on the server; '
    + 'it can change it under My account.',
  changed: 'The server\'s administrator: it chose its password under My account; '
    + 'reset-admin-password on the server replaces it.',
};

function actions(user, self, reload) {
  // Your own sessions are under My account.
  const sessions = self ? null : { label: 'Sessions', icon: 'list', onSelect: () => openSessions(user) };
  const resetTwoFactor = user.totp_enabled && !self
    ? { label: 'Reset two-factor', icon: 'shield', danger: true, onSelect: () => confirmResetTwoFactor(user, reload) }
    : null;
  if (!user.editable) {
    const note = ENV_ADMIN_NOTES[user.credential_source] || ENV_ADMIN_NOTES.generated;
    const lock = h('span', { class: 'cell-note', title: note }, icon('lock'), h('span', { class: 'visually-hidden' }, note));
    return sessions ? h('span', { class: 'cell-actions-row' }, lock, rowMenu(user, () => [sessions, resetTwoFactor])) : lock;
  }
  const items = () => {
    if (self) return [{ label: 'Change my password', icon: 'key', onSelect: () => openChangePasswordDialog() }];
    return [
      sessions,
      { label: 'Reset password', icon: 'key', onSelect: () => openResetPassword(user, reload) },
      resetTwoFactor,
      user.role === 'admin'
        ? { label: 'Make client', icon: 'user', onSelect: () => changeRole(user, 'client', reload) }
        : { label: 'Make admin', icon: 'shield', onSelect: () => changeRole(user, 'admin', reload) },
      user.active
        ? { label: 'Deactivate', icon: 'pause', onSelect: () => setActive(user, false, reload) }
        : { label: 'Activate', icon: 'play', onSelect: () => setActive(user, true, reload) },
      { label: 'Delete user', icon: 'trash', danger: true, onSelect: () => deleteUser(user, reload) },
    ];
  };
  return rowMenu(user, items);
}

function rowMenu(user, items) {
  return menuButton({
    button: { class: 'icon-button row-menu-button', 'aria-label': `Actions for ${user.username}` },
    content: [icon('more')],
    items,
    placement: 'down',
    align: 'end',
  });
}

// After a lost phone: the user signs in with the password alone and sets it up again.
async function confirmResetTwoFactor(user, reload) {
  const ok = await confirmDialog(
    `Reset two-factor sign-in for ${who(user)}? They are signed out everywhere and sign in with their password alone `
    + 'until they set it up again. Make sure it is really them asking.',
    { title: 'Reset two-factor sign-in', confirmLabel: 'Reset two-factor', danger: true });
  if (!ok) return;
  try {
    await api.del(`/api/users/${user.id}/2fa`);
  } catch (err) {
    showError(err, `Resetting ${user.username}'s two-factor sign-in failed`);
    return;
  }
  showToast(`Two-factor sign-in of ${who(user)} is off; they can set it up again.`, 'success');
  reload();
}

// ---- Sessions ----
// Where someone is signed in. The list is shared with My account; the words
// for the browser ("Firefox 128 on Linux") come from the server.

/** Sessions as GET /api/me/sessions (or /api/users/:id/sessions) lists
 *  them; `onEnd(session, button)` signs one out (never offered for this device). */
export function sessionList(sessions, onEnd) {
  if (!sessions.length) return h('p', { class: 'muted session-none' }, 'Not signed in anywhere.');
  return h('ul', { class: 'session-list' }, sessions.map((session) => {
    const end = session.current ? null : h('button', {
      type: 'button', class: 'btn btn-sm', 'aria-label': `Sign out ${session.device} (${session.ip || 'unknown address'})`,
      onClick: (event) => onEnd(session, event.currentTarget),
    }, icon('logout'), 'Sign out');
    return h('li', { class: 'session-row', dataset: { sessionId: session.id, current: session.current ? '' : null } },
      h('div', { class: 'session-text' },
        h('p', { class: 'session-device' }, h('span', { title: session.user_agent || null }, session.device),
          session.current ? h('span', { class: 'badge badge-success badge-sm' }, 'This device') : null,
          session.via === 'proxy' ? h('span', { class: 'badge badge-neutral badge-sm', title: 'Signed in by the identity proxy' }, 'Proxy') : null),
        h('p', { class: 'session-sub' },
          h('code', { class: 'mono-soft' }, session.ip || 'unknown address'), ' · signed in ',
          h('time', { datetime: isoTime(session.created_at), title: formatDateTime(session.created_at) }, formatDate(session.created_at)),
          ' · last seen ',
          h('time', { datetime: isoTime(session.last_seen), title: formatDateTime(session.last_seen), dataset: { lastSeen: '' } },
            formatAgo(session.last_seen)))),
      end);
  }));
}

/** Someone's sessions in a dialog: sign out one, or all of them. */
function openSessions(user) {
  const base = `/api/users/${user.id}/sessions`;
  return modal({ title: `Sessions of ${who(user)}`, description: 'Where they are signed in now. Signing a session out ends it at once; '
    + 'they can sign in again with their password.' }, () => {
    const list = h('div', { class: 'session-dialog', 'aria-live': 'polite', 'aria-busy': 'true' }, loadingNote('Loading sessions…'));
    const endAll = h('button', { type: 'button', class: 'btn btn-danger', disabled: true, onClick: () => signOutAll() },
      icon('logout'), 'Sign out everywhere');

    async function load() {
      list.setAttribute('aria-busy', 'true');
      let data;
      try {
        data = await api.get(base);
      } catch (err) {
        list.removeAttribute('aria-busy');
        list.replaceChildren(loadError(`The sessions could not be loaded: ${err.message}`, load));
        return;
      }
      list.removeAttribute('aria-busy');
      list.replaceChildren(sessionList(data.sessions, signOut));
      endAll.disabled = !data.sessions.some((session) => !session.current);
    }

    async function signOut(session, button) {
      const done = busy(button, 'Signing out…');
      try {
        await api.del(`${base}/${session.id}`);
      } catch (err) {
        done();
        showError(err, 'Signing the session out failed');
        return;
      }
      showToast(`${session.device} of ${who(user)} is signed out.`, 'success');
      load();
    }

    async function signOutAll() {
      const ok = await confirmDialog(`Sign ${who(user)} out everywhere? Every session of theirs ends at once`
        + '.', { title: 'Sign out everywhere', confirmLabel: 'Sign out everywhere', danger: true });
      if (!ok) return;
      try {
        await api.del(base);
      } catch (err) {
        showError(err, 'Signing the sessions out failed');
        return;
      }
      showToast(`${who(user)} is signed out everywhere.`, 'success');
      load();
    }

    load();
    return [list, h('div', { class: 'dialog-actions' }, endAll)];
  });
}

// The require_2fa_for_admins setting: a switch, saved at once.
function requireTwoFactorCard(ctx) {
  const input = h('input', { id: 'require-2fa', type: 'checkbox', role: 'switch', class: 'switch-input', disabled: true });
  const card = h('section', { class: 'card card-narrow-lg', 'aria-labelledby': 'require-2fa-title' },
    h('h2', { class: 'card-title', id: 'require-2fa-title' }, icon('shield'), 'Two-factor sign-in for admins'),
    h('p', { class: 'card-lead card-lead-spaced' }, 'When required, an admin without two-factor sign-in can do nothing but set it up '
      + '(Settings → My account). Clients and API tokens are not affected.'),
    h('label', { class: 'switch action-switch', for: 'require-2fa' },
      input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }),
      h('span', { class: 'action-switch-label' }, 'Require two-factor sign-in for admins')));
  let mine = null; // this admin's own two-factor status
  Promise.all([api.get('/api/settings', { signal: ctx.signal }), api.get('/api/me/2fa', { signal: ctx.signal })])
    .then(([data, status]) => {
      input.checked = data.settings.require_2fa_for_admins === true;
      mine = status;
      input.disabled = false;
    }, (err) => {
      if (!ctx.signal.aborted) showError(err, 'Settings');
    });
  input.addEventListener('change', async () => {
    const on = input.checked;
    const me = getUser();
    if (on && !mine.enabled) {
      const ok = await confirmDialog('You have not turned on two-factor sign-in yourself: once this is saved, you must set it up before anything else.',
        { title: 'Require two-factor sign-in', confirmLabel: 'Require it' });
      if (!ok) {
        input.checked = false;
        return;
      }
    }
    input.disabled = true;
    try {
      await api.put('/api/settings', { require_2fa_for_admins: on });
    } catch (err) {
      input.checked = !on;
      input.disabled = false;
      showError(err, 'Saving the setting failed');
      return;
    }
    input.disabled = false;
    showToast(on ? 'Admins now need two-factor sign-in.' : 'Two-factor sign-in is optional for admins.', 'success');
    if (on && !mine.enabled) {
      setUser({ ...me, totp_setup_required: true });
      ctx.navigate('/settings/account');
    }
  });
  return card;
}

function who(user) {
  return user.display_name === user.username ? user.username : `${user.display_name} (${user.username})`;
}

async function changeRole(user, role, reload) {
  const message = role === 'admin'
    ? `Make ${who(user)} an admin? Admins can run scripts, manage users and change every setting.`
    : `Make ${who(user)} a client? They keep the dashboard, monitor, quick actions and plugins, and lose everything else at once.`;
  const ok = await confirmDialog(message, {
    title: role === 'admin' ? 'Make admin' : 'Make client', confirmLabel: role === 'admin' ? 'Make admin' : 'Make client',
  });
  if (!ok) return;
  await update(user, { role }, `${who(user)} is now ${role === 'admin' ? 'an admin' : 'a client'}.`, reload);
}

async function setActive(user, active, reload) {
  if (!active) {
    const ok = await confirmDialog(
      `Deactivate ${who(user)}? They are signed out at once and cannot sign in until an admin activates the account again.`,
      { title: 'Deactivate user', confirmLabel: 'Deactivate', danger: true });
    if (!ok) return;
  }
  await update(user, { active }, `${who(user)} is ${active ? 'active again' : 'deactivated'}.`, reload);
}

async function update(user, changes, success, reload) {
  try {
    await api.patch(`/api/users/${user.id}`, changes);
  } catch (err) {
    showError(err, `Changing ${user.username} failed`);
    return;
  }
  showToast(success, 'success');
  reload();
}

async function deleteUser(user, reload) {
  const ok = await confirmDialog(
    `Delete ${who(user)}? Their account and sessions are removed for good; this cannot be undone.`,
    { title: 'Delete user', confirmLabel: 'Delete user', danger: true });
  if (!ok) return;
  try {
    await api.del(`/api/users/${user.id}`);
  } catch (err) {
    showError(err, `Deleting ${user.username} failed`);
    return;
  }
  showToast(`${who(user)} was deleted.`, 'success');
  reload();
}

function openResetPassword(user, reload) {
  return modal({
    title: 'Reset password',
    description: `Set a new password for ${who(user)}. They are signed out everywhere and sign in again with it.`,
  }, (close) => {
    const ids = { password: uid('reset-password'), hints: uid('reset-hints') };
    const error = formError();
    const hints = passwordHints(ids.hints, { who: 'their username' });
    const password = passwordInput({ id: ids.password, name: 'password', autocomplete: 'new-password', describedBy: ids.hints, autofocus: true });
    password.input.addEventListener('input', () => {
      hints.update(password.input.value);
      password.input.removeAttribute('aria-invalid');
    });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Set password');
    return h('form', {
      class: 'form', noValidate: true,
      onSubmit: async (event) => {
        event.preventDefault();
        error.clear();
        const problem = lengthProblem(password.input.value);
        if (problem) {
          password.input.setAttribute('aria-invalid', 'true');
          error.show(problem);
          password.input.focus();
          return;
        }
        const done = busy(submit, 'Saving…');
        try {
          await api.post(`/api/users/${user.id}/password`, { password: password.input.value });
        } catch (err) {
          done();
          if (err.handled) return;
          error.show(err.message);
          password.input.focus();
          return;
        }
        close(true);
        showToast(`New password set for ${who(user)}.`, 'success');
        reload();
      },
    },
    h('div', { class: 'field' }, h('label', { for: ids.password }, 'New password'), password.field, hints.element),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(false) }, 'Cancel'),
      submit));
  });
}

function openAddUser(reload) {
  return modal({ title: 'Add user', description: 'They sign in with this username and password; share the password with them safely.' }, (close) => {
    const ids = {
      username: uid('new-username'), display: uid('new-display'), password: uid('new-password'),
      hints: uid('new-hints'), usernameHelp: uid('new-username-help'),
    };
    const error = formError();
    const username = h('input', {
      id: ids.username, name: 'username', class: 'input', required: true, autocomplete: 'off',
      autocapitalize: 'none', spellcheck: 'false', maxlength: '64', 'aria-describedby': ids.usernameHelp, autofocus: true,
    });
    const display = h('input', { id: ids.display, name: 'display_name', class: 'input', maxlength: '100', autocomplete: 'off' });
    const hints = passwordHints(ids.hints, { who: 'the username' });
    const password = passwordInput({ id: ids.password, name: 'password', autocomplete: 'new-password', describedBy: ids.hints });
    password.input.addEventListener('input', () => hints.update(password.input.value));
    const roleName = uid('new-role');
    const roleOption = (value, checked) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: roleName, value, checked, class: 'choice-input' }),
      h('span', { class: 'choice-text' },
        h('span', { class: 'choice-label' }, ROLE_LABELS[value]),
        h('span', { class: 'choice-help' }, ROLE_HELP[value])));
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add user');
    const errors = fieldErrors({ username, display_name: display, password: password.input });

    function invalid(input, message) {
      input.setAttribute('aria-invalid', 'true');
      error.show(message);
      input.focus();
    }

    return h('form', {
      class: 'form', noValidate: true,
      onSubmit: async (event) => {
        event.preventDefault();
        error.clear();
        errors.clear();
        const name = username.value.trim();
        if (!name) return invalid(username, 'Enter a username.');
        const problem = lengthProblem(password.input.value);
        if (problem) return invalid(password.input, problem);
        const form = event.currentTarget;
        const role = form.querySelector(`input[name="${roleName}"]:checked`).value;
        const body = { username: name, password: password.input.value, role };
        if (display.value.trim()) body.display_name = display.value.trim();
        const done = busy(submit, 'Adding…');
        let created;
        try {
          created = (await api.post('/api/users', body)).user;
        } catch (err) {
          done();
          if (!err.handled) showSubmitError(err, { error, errors, notDone: 'Not added' });
          return;
        }
        close(true);
        showToast(`Added ${who(created)} as ${created.role === 'admin' ? 'an admin' : 'a client'}.`, 'success');
        reload();
      },
    },
    h('div', { class: 'field' },
      h('label', { for: ids.username }, 'Username'), username,
      h('p', { class: 'field-help', id: ids.usernameHelp }, 'Letters, digits and . _ @ - ; up to 64 characters.')),
    h('div', { class: 'field' },
      h('label', { for: ids.display }, 'Display name ', h('span', { class: 'optional' }, '(optional)')), display),
    h('fieldset', { class: 'field fieldset' },
      h('legend', null, 'Role'),
      h('div', { class: 'choices' }, roleOption('client', true), roleOption('admin', false))),
    h('div', { class: 'field' }, h('label', { for: ids.password }, 'Password'), password.field, hints.element),
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(false) }, 'Cancel'),
      submit));
  });
}

function loadingNote(text) {
  return h('p', { class: 'table-note' }, text);
}


