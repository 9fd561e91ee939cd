// A paged list's footer: what the list holds, "Page X of Y" and two
// buttons. One piece for every paged list (history, audit log, sign-ins,
// plugin logs, alerts), so they look and behave alike.
import { h } from './dom.js';
import { icon } from './icons.js';

/**
 * pager({go, back, forward, dataset}) → {el, show({text, page, pages, more})}
 * `go(delta)` is called with -1 (back) or +1 (forward); `back`/`forward`
 * name the buttons ("Previous"/"Next", or "Newer"/"Older" for newest-first
 * lists). `dataset` ({summary, back, forward}) marks the parts for tests.
 * `show`: `page` counts from 0; with `pages` the label says "Page X of Y",
 * without it (a list whose end is unknown) "Page X" and forward stays
 * enabled while `more`.
 */
export function pager({ go, back = 'Previous', forward = 'Next', dataset = {} }) {
  const summary = h('p', { class: 'pager-summary', dataset: dataset.summary });
  const label = h('span', { class: 'pager-label', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'btn', disabled: true, dataset: dataset.back, onClick: () => go(-1) },
    icon('prev'), h('span', null, back));
  const next = h('button', { type: 'button', class: 'btn', disabled: true, dataset: dataset.forward, onClick: () => go(1) },
    h('span', null, forward), icon('next'));
  return {
    el: h('div', { class: 'pager' }, summary, h('div', { class: 'pager-controls' }, prev, label, next)),
    show({ text, page, pages = null, more = false }) {
      summary.textContent = text;
      label.textContent = pages === null ? `Page ${page + 1}` : `Page ${page + 1} of ${pages}`;
      prev.disabled = page === 0;
      next.disabled = pages === null ? !more : page + 1 >= pages;
    },
  };
}
