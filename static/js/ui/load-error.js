// The one panel for something that failed to load: what failed and why,
// and a "Try again" button. Pages put it where the content would have been.
//
//   list.replaceChildren(loadError(`The scripts could not be listed: ${err.message}`, load));
//   body.replaceChildren(loadError(err.message, retry, {title: 'The plugin could not be loaded', card: true}));
import { h } from './dom.js';
import { icon } from './icons.js';

/**
 * message: the sentence shown; retry: called by "Try again" (no button
 * when null). options: title (a heading above the message), card (drawn as
 * a card of its own, for a whole page body), actions (more buttons or links
 * before "Try again"), dataset (data-* attributes for the panel).
 */
export function loadError(message, retry, { title = null, card = false, actions = [], dataset = null } = {}) {
  const again = retry ? h('button', {
    type: 'button', class: 'btn btn-sm', dataset: { retry: '' },
    onClick: () => retry(),
  }, icon('refresh'), h('span', null, 'Try again')) : null;
  const extra = [actions].flat().filter(Boolean);
  return h(card ? 'section' : 'div', { class: ['load-error', card ? 'card' : null], role: 'alert', dataset },
    title ? h('h2', { class: 'load-error-title' }, icon('error', 'load-error-icon'), title)
      : icon('error', 'load-error-icon'),
    h('p', { class: 'load-error-message' }, message),
    extra.length || again ? h('div', { class: 'load-error-actions' }, extra, again) : null);
}
