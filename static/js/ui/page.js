// Building blocks shared by pages.
import { h } from './dom.js';
import { icon } from './icons.js';

/** The page's <h1>, a one-line description and optional things shown at
 *  the end of the header (status badges, page-wide controls). */
export function pageHeader(title, lead, ...aside) {
  const text = h('div', { class: 'page-header-text' },
    h('h1', { class: 'page-title' }, title),
    lead ? h('p', { class: 'page-lead' }, lead) : null);
  const extra = aside.flat().filter(Boolean);
  return h('header', { class: ['page-header', extra.length ? 'page-header-row' : null] },
    text, extra.length ? h('div', { class: 'page-header-aside' }, extra) : null);
}

/** A dashed card naming a part of the page that later work fills in. */
export function upcoming(text) {
  return h('section', { class: 'card card-upcoming' },
    icon('upcoming', 'card-upcoming-icon'),
    h('p', null, text));
}

/** The standard page container. */
export function page(...kids) {
  return h('div', { class: 'page' }, ...kids);
}
