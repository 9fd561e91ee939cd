// Settings → My account (everyone): who you are, and a new password.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { getUser } from '../../session.js';
import { avatar } from '../../ui/layout.js';
import { changePasswordForm } from '../../ui/password.js';
import { roleBadge } from './users.js';

export function render(container) {
  const user = getUser();
  container.append(h('div', { class: 'stack' },
    h('section', { class: 'card card-narrow-lg', 'aria-labelledby': 'account-title' },
      h('h2', { class: 'card-title', id: 'account-title' }, icon('user'), 'My account'),
      h('div', { class: 'account-summary' },
        avatar(user.display_name || user.username, { class: 'avatar avatar-lg' }),
        h('div', { class: 'account-text' },
          h('p', { class: 'account-name' }, user.display_name),
          h('p', { class: 'account-sub' }, user.username, ' · ', roleBadge(user.role))))),
    h('section', { class: 'card card-narrow-lg', 'aria-labelledby': 'password-title' },
      h('h2', { class: 'card-title', id: 'password-title' }, icon('key'), 'Change password'),
      h('p', { class: 'card-lead card-lead-spaced' }, 'Your other sessions are signed out when the password changes; this one stays signed in.'),
      changePasswordForm())));
}
