// The "Live" / "Reconnecting…" badge of pages that show pushed data.
import { h } from './dom.js';
import { onConnectionChange } from '../live.js';

const LABELS = {
  idle: ['Offline', 'neutral', 'Live updates are off.'],
  connecting: ['Connecting…', 'neutral', 'Opening the live connection to the server.'],
  connected: ['Live', 'success', 'Values update as the server measures them.'],
  reconnecting: ['Reconnecting…', 'warning', 'The live connection to the server dropped; retrying. Values shown may be out of date.'],
};

/** Returns {el, stop}: the badge, following the connection until `signal`
 *  aborts (or stop() is called). When `onChange` is given it is called with
 *  every new connection state. */
export function liveStatus({ signal, onChange = null } = {}) {
  const text = h('span', { class: 'live-status-text' });
  const el = h('span', { class: 'badge live-status', role: 'status', dataset: { live: '' } },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
  const stop = onConnectionChange((state) => {
    const [label, tone, hint] = LABELS[state] || LABELS.idle;
    el.className = `badge live-status badge-${tone}`;
    el.dataset.live = state;
    el.title = hint;
    text.textContent = label;
    if (onChange) onChange(state);
  }, { signal });
  return { el, stop };
}
