import { h } from '../ui/dom.js';
import { page, pageHeader } from '../ui/page.js';

// Shown to a signed-in user on a page their role does not include.
export function mount(root, ctx) {
  root.append(page(
    pageHeader('Not available', 'Your account does not include this page.'),
    h('section', { class: 'card card-narrow' },
      h('p', null, 'Only admins can open ', h('code', { class: 'path' }, ctx.path),
        '. Ask an admin of this server if you need it.'),
      h('p', { class: 'card-actions' }, h('a', { class: 'btn btn-primary', href: '/' }, 'Go to the dashboard')))));
}
