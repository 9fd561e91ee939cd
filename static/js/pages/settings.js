// Settings: one section at a time, each with its own address
// (/settings/users, …) so reloads and links keep the place. Clients have
// "My account" and "API tokens"; the other sections call admin-only APIs.
// A section module exports render(container, ctx) and hangs what it starts
// on ctx.signal, like a page.
import { h } from '../ui/dom.js';
import { icon } from '../ui/icons.js';
import { page, pageHeader } from '../ui/page.js';
import { getUser } from '../session.js';
import * as users from './settings/users.js';
import * as loginHistory from './settings/login-history.js';
import * as audit from './settings/audit.js';
import * as instance from './settings/instance.js';
import * as account from './settings/account.js';
import * as scripts from './settings/scripts.js';
import * as quickActions from './settings/quick-actions.js';
import * as pluginSections from './settings/plugin-sections.js';
import * as tokens from './settings/tokens.js';

const SECTIONS = [
  { id: 'users', label: 'Users', icon: 'users', admin: true, module: users },
  { id: 'login-history', label: 'Login history', icon: 'history', admin: true, module: loginHistory },
  { id: 'audit', label: 'Audit log', icon: 'shield', admin: true, module: audit },
  { id: 'scripts', label: 'Scripts', icon: 'scripts', admin: true, module: scripts },
  { id: 'quick-actions', label: 'Quick actions', icon: 'bolt', admin: true, module: quickActions },
  { id: 'plugins', label: 'Plugins', icon: 'plugins', admin: true, module: pluginSections },
  { id: 'instance', label: 'Instance', icon: 'server', admin: true, module: instance },
  { id: 'account', label: 'My account', icon: 'user', admin: false, module: account },
  { id: 'tokens', label: 'API tokens', icon: 'key', admin: false, module: tokens },
];

export function mount(root, ctx) {
  const user = getUser();
  const admin = user.role === 'admin';
  const available = SECTIONS.filter((s) => admin || !s.admin);
  const wanted = ctx.params.section || available[0].id;
  const section = available.find((s) => s.id === wanted);

  const body = h('div', { class: 'settings-body' });
  root.append(page(
    pageHeader('Settings', admin
      ? 'Users, sign-in activity, the audit log, scripts and quick actions, this instance, your own account and API tokens.'
      : 'Your account and API tokens on this server.'),
    available.length > 1 ? h('nav', { class: 'tabs', 'aria-label': 'Settings sections' },
      available.map((s) => h('a', {
        class: 'tab', href: `/settings/${s.id}`, 'aria-current': s === section ? 'page' : null,
      }, icon(s.icon), h('span', null, s.label)))) : null,
    body));

  if (!section) {
    const known = SECTIONS.some((s) => s.id === wanted);
    body.append(h('section', { class: 'card card-narrow' },
      h('p', null, known
        ? 'This section is for admins only.'
        : ['There is no settings section called ', h('code', { class: 'path' }, wanted), '.']),
      h('p', { class: 'card-actions' }, h('a', { class: 'btn btn-primary', href: '/settings' }, 'Back to settings'))));
    return;
  }
  if (section.id !== available[0].id || ctx.params.section) ctx.setTitle(`${section.label} · Settings`);
  section.module.render(body, ctx);
}
