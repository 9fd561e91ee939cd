import { h } from '../ui/dom.js';
import { page, pageHeader } from '../ui/page.js';

export function mount(root, ctx) {
  root.append(page(
    pageHeader('Not found', 'There is no page at this address.'),
    h('section', { class: 'card card-narrow' },
      h('p', null, 'Nothing lives at ', h('code', { class: 'path' }, ctx.path), '.'),
      h('p', { class: 'card-actions' }, h('a', { class: 'btn btn-primary', href: '/' }, 'Go to the dashboard')))));
}
