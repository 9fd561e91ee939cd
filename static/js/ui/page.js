// Building blocks shared by pages.
import { h } from './dom.js';
import { icon } from './icons.js';

/** The page's <h1> and a one-line description. */
export function pageHeader(title, lead) {
  return h('header', { class: 'page-header' },
    h('h1', { class: 'page-title' }, title),
    lead ? h('p', { class: 'page-lead' }, lead) : null);
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
