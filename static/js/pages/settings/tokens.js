// Settings → API tokens (everyone): scripts, CI jobs and Prometheus call
// Toru with `Authorization: Bearer toru_…` instead of a session
// (docs/security.md#api-tokens). Everyone manages their own tokens; admins
// see everyone's. The secret exists only in the answer to the create
// request: it is shown once, in a panel that Done takes out of the page.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { getUser, isAdmin } from '../../session.js';
import { confirmDialog, modal } from '../../ui/dialog.js';
import { showError, showToast } from '../../ui/toast.js';
import { fieldErrors, showSubmitError } from '../../ui/field-errors.js';
import { formatAgo, formatDate, formatDateTime, formatIn, isoTime } from '../../ui/format.js';
import { listLoader } from '../../ui/list-loader.js';
import { iconBusy, iconButton } from '../../ui/buttons.js';
import { copyText } from '../../ui/clipboard.js';
import { busy, formError, uid } from '../../ui/form.js';

export function render(container, ctx) {
  const list = h('div', { class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true' },
    h('p', { class: 'table-note' }, 'Loading tokens…'));
  const count = h('span', { class: 'card-count' });
  let scopes = null; // the server's {scope: one-line explanation}, from the last load
  let shown = null; // the panel with a new token's secret, while it is shown
  const create = h('button', { type: 'button', class: 'btn btn-primary', disabled: true, onClick: () => newToken() },
    icon('plus'), 'New token');
  const card = tokensCard(count, create, list);
  container.append(h('div', { class: 'stack' }, card));

  async function newToken() {
    const created = await openCreateToken(scopes);
    if (!created) return;
    if (shown) shown.remove();
    const panel = secretPanel(created, () => {
      panel.remove();
      if (shown === panel) shown = null;
      create.focus();
    });
    shown = panel;
    card.before(panel);
    panel.querySelector('[data-secret]').focus();
    reload();
  }

  const load = listLoader(list, { signal: ctx.signal, what: 'The API tokens', title: 'API tokens', retry: () => reload() });
  async function reload() {
    const data = await load('/api/tokens');
    if (!data) return;
    scopes = data.scopes;
    create.disabled = false;
    count.textContent = String(data.tokens.length);
    list.replaceChildren(data.tokens.length ? tokensTable(data.tokens, reload)
      : h('p', { class: 'table-note' }, 'No API tokens yet. Make one for each script or service that calls Toru, '
        + 'so each can be revoked on its own.'));
  }
  reload();
}

// ---- The list ----

function tokensCard(count, create, list) {
  return h('section', { class: 'card card-flush', 'aria-labelledby': 'tokens-title' },
    h('div', { class: 'card-head' },
      h('div', { class: 'card-head-text' },
        h('h2', { class: 'card-title', id: 'tokens-title' }, icon('key'), 'API tokens', count),
        h('p', { class: 'card-lead' },
          'Scripts, CI jobs and Prometheus use a token instead of signing in. A token acts as its owner, '
          + 'limited to its scopes.', isAdmin() ? ' As an admin you see everyone\'s tokens.' : '')),
      create),
    list);
}

function tokensTable(tokens, reload) {
  const me = getUser();
  return h('table', { class: 'table table-cards tokens-table' },
    h('caption', { class: 'visually-hidden' }, 'API tokens'),
    h('thead', null, h('tr', null,
      ['Name', 'Token', 'Scopes', 'Created', 'Expires', 'Last used'].map((label) => h('th', { scope: 'col' }, label)),
      h('th', { scope: 'col', class: 'cell-actions' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', null, tokens.map((token) => tokenRow(token, me, reload))));
}

function tokenRow(token, me, reload) {
  // A client lists only their own tokens; an admin sees whose the others are.
  const mine = token.user_id === me.id && token.username === me.username;
  return h('tr', { dataset: { tokenId: token.id } },
    h('td', { class: 'cell-primary' },
      h('div', { class: 'user-cell-text' },
        h('span', { class: 'token-name', dataset: { tokenName: '' } }, token.name),
        mine ? null : h('span', { class: 'user-cell-sub', dataset: { tokenOwner: '' } }, `Owner: ${token.username}`))),
    h('td', { dataset: { label: 'Token' } }, h('code', { class: 'mono-soft', dataset: { tokenPrefix: '' } }, `${token.prefix}…`)),
    h('td', { dataset: { label: 'Scopes' } }, h('div', { class: 'token-scopes' }, token.scopes.map((scope) => h('span', {
      class: ['badge', 'badge-sm', scope === 'admin' ? 'badge-primary' : 'badge-neutral'], dataset: { scope },
    }, scope)))),
    h('td', { dataset: { label: 'Created' } },
      h('time', { datetime: isoTime(token.created_at), title: formatDateTime(token.created_at) }, formatDate(token.created_at))),
    h('td', { dataset: { label: 'Expires', expires: '' } }, expiresCell(token.expires_at)),
    h('td', { dataset: { label: 'Last used', lastUsed: '' } }, lastUsedCell(token)),
    h('td', { class: 'cell-actions' }, iconButton('trash', `Revoke ${token.name}`, 'token-revoke', false,
      (button) => revokeToken(token, button, reload))));
}

function expiresCell(expiresAt) {
  if (expiresAt == null) return h('span', { class: 'muted' }, 'Never');
  const when = h('time', { datetime: isoTime(expiresAt), title: formatDateTime(expiresAt) }, formatDate(expiresAt));
  if (expiresAt <= Date.now() / 1000) {
    return h('div', { class: 'token-expired' }, h('span', { class: 'badge badge-danger badge-sm' }, 'Expired'), when);
  }
  return h('div', { class: 'time-cell' }, when, h('span', { class: 'time-ago' }, formatIn(expiresAt)));
}

function lastUsedCell(token) {
  if (token.last_used_at == null) return h('span', { class: 'muted' }, 'Never');
  return h('div', { class: 'time-cell' },
    h('time', { datetime: isoTime(token.last_used_at), title: formatDateTime(token.last_used_at) }, formatAgo(token.last_used_at)),
    token.last_used_ip ? h('span', { class: 'time-ago' }, `from ${token.last_used_ip}`) : null);
}

async function revokeToken(token, button, reload) {
  const ok = await confirmDialog(
    `Revoke “${token.name}” (${token.prefix}…)? Whatever uses it is refused from its next request; this cannot be undone.`,
    { title: 'Revoke token', confirmLabel: 'Revoke', danger: true });
  if (!ok) return;
  const undo = iconBusy(button);
  try {
    await api.del(`/api/tokens/${token.id}`);
  } catch (err) {
    undo();
    showError(err, `Revoking “${token.name}” failed`);
    if (err.status === 404) reload(); // revoked elsewhere meanwhile
    return;
  }
  showToast(`“${token.name}” was revoked.`, 'success');
  reload();
}

// ---- Making one ----

/** The create dialog; resolves to the server's {token, secret}, or undefined. */
function openCreateToken(scopes) {
  return modal({
    title: 'New API token',
    description: 'The token acts as you, limited to the scopes you choose. Its secret is shown once, right after this.',
  }, (close) => tokenForm(scopes, close));
}

function tokenForm(scopes, close) {
  const ids = { name: uid('token-name'), nameHelp: uid('token-name-help'), scopes: uid('token-scopes'),
    expires: uid('token-expires'), expiresHelp: uid('token-expires-help') };
  const name = h('input', { id: ids.name, name: 'name', class: 'input', autocomplete: 'off',
    'aria-describedby': ids.nameHelp, autofocus: true });
  // The admin scope is an admin's only (the server refuses it to a client).
  const offered = Object.entries(scopes).filter(([scope]) => scope !== 'admin' || isAdmin());
  const scopeSet = h('fieldset', { class: 'field fieldset', id: ids.scopes },
    h('legend', null, 'Scopes'),
    h('div', { class: 'choices' }, offered.map(([scope, text]) => scopeChoice(scope, text))));
  const expires = h('input', { type: 'date', id: ids.expires, name: 'expires_at', class: 'input input-date',
    'aria-describedby': ids.expiresHelp });
  const parts = {
    name, scopeSet, expires, error: formError(),
    submit: h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create token'),
    errors: fieldErrors({ name, scopes: scopeSet, expires_at: expires }),
  };
  return h('form', { class: 'form', noValidate: true, onSubmit: (event) => submitToken(event, parts, close) },
    h('div', { class: 'field' },
      h('label', { for: ids.name }, 'Name'), name,
      h('p', { class: 'field-help', id: ids.nameHelp }, 'What uses it, for example “Prometheus on monitor-1” or “nightly backup job”.')),
    scopeSet,
    h('div', { class: 'field' },
      h('label', { for: ids.expires }, 'Expires ', h('span', { class: 'optional' }, '(optional)')), expires,
      h('p', { class: 'field-help', id: ids.expiresHelp }, 'Valid through the end of that day (UTC). Leave it empty for a token that does not expire.')),
    parts.error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'),
      parts.submit));
}

function scopeChoice(scope, text) {
  return h('label', { class: 'choice' },
    h('input', { type: 'checkbox', name: 'scopes', value: scope, class: 'choice-input' }),
    h('span', { class: 'choice-text' },
      h('span', { class: 'choice-label' }, scope),
      h('span', { class: 'choice-help' }, text)));
}

async function submitToken(event, { name, scopeSet, expires, error, submit, errors }, close) {
  event.preventDefault();
  error.clear();
  errors.clear();
  // A half-typed date reads as "": sending nothing would make a token that never expires.
  if (expires.validity.badInput) {
    errors.show({ expires_at: 'Enter a whole date, or clear the field for no expiry.' });
    errors.focusFirst();
    return;
  }
  const body = { name: name.value, scopes: [...scopeSet.querySelectorAll('input:checked')].map((box) => box.value) };
  if (expires.value) body.expires_at = expires.value;
  const done = busy(submit, 'Creating…');
  let created;
  try {
    created = await api.post('/api/tokens', body);
  } catch (err) {
    done();
    if (!err.handled) showSubmitError(err, { error, errors, notDone: 'Not created' });
    return;
  }
  close(created);
}

// ---- The secret, once ----

function secretPanel({ token, secret }, onDone) {
  const titleId = uid('token-secret-title');
  const fieldId = uid('token-secret');
  const field = h('input', {
    id: fieldId, class: 'input input-mono', readonly: true, value: secret, spellcheck: 'false', autocomplete: 'off',
    dataset: { secret: '' }, onFocus: () => field.select(),
  });
  const example = h('code', null, usageExample(token.scopes, secret));
  return h('section', { class: 'card token-secret', 'aria-labelledby': titleId, dataset: { tokenSecretPanel: '' } },
    h('h2', { class: 'card-title', id: titleId }, icon('key'), `Token “${token.name}” created`),
    h('p', { class: 'notice notice-warning' }, icon('error', 'notice-icon'),
      h('span', null, 'Copy it now: it will not be shown again. Toru keeps only a hash of it.')),
    h('div', { class: 'field' },
      h('label', { for: fieldId }, 'Secret'),
      h('div', { class: 'token-secret-row' }, field,
        h('button', { type: 'button', class: 'btn', onClick: () => copyText(field) }, icon('copy'), 'Copy'))),
    h('div', { class: 'field' },
      h('p', { class: 'field-help' }, 'Send it in the Authorization header, for example:'),
      h('pre', { class: 'token-usage' }, example)),
    h('div', { class: 'card-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', onClick: () => {
        // Out of the page for good: nothing keeps a reference to the text.
        field.value = '';
        example.textContent = '';
        onDone();
      } }, 'Done')));
}

/** A curl line for a route the token's scopes allow. */
function usageExample(scopes, secret) {
  let path = '/api/auth/me';
  if (!scopes.includes('read') && !scopes.includes('admin')) path = scopes.includes('run') ? '/api/quick-actions' : '/metrics';
  return `curl -H "Authorization: Bearer ${secret}" ${window.location.origin}${path}`;
}
