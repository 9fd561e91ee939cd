// How a plugin looks wherever it is shown (sidebar, cards, details, its own
// page, the dashboard): its icon, and its condition as a coloured dot and a
// word. The server computes `condition` (docs/plugins.md); this is only a
// lookup table from it to a tone and a label.
import { h } from './dom.js';
import { icon } from './icons.js';

// tone: green (fine), amber (on its way), red (needs a look), grey (off).
export const CONDITIONS = {
  running: { tone: 'green', label: 'Running' },
  unhealthy: { tone: 'red', label: 'Unhealthy' },
  starting: { tone: 'amber', label: 'Starting' },
  restarting: { tone: 'amber', label: 'Restarting' },
  'crash-looping': { tone: 'red', label: 'Crash loop' },
  failed: { tone: 'red', label: 'Failed' },
  invalid: { tone: 'red', label: 'Invalid' },
  disabled: { tone: 'grey', label: 'Disabled' },
  stopping: { tone: 'grey', label: 'Stopping' },
  stopped: { tone: 'grey', label: 'Stopped' },
};
const UNKNOWN = { tone: 'grey', label: 'Unknown' };

/** {tone, label} for the plugin's condition. */
export function healthOf(plugin) {
  return (plugin && CONDITIONS[plugin.condition]) || UNKNOWN;
}

/** The coloured dot for a plugin's condition, with its meaning as text. */
export function healthDot(plugin) {
  const { tone, label } = healthOf(plugin);
  return h('span', { class: 'health-dot', dataset: { health: tone }, title: label },
    h('span', { class: 'visually-hidden' }, label));
}

/** A plugin's picture: its icon as text (never markup), or a default. */
export function pluginIcon(plugin, className = 'plugin-icon') {
  const text = typeof plugin.icon === 'string' ? plugin.icon.trim() : '';
  if (!text) return h('span', { class: className, 'aria-hidden': 'true' }, icon('plugins'));
  const long = [...text].length > 2;
  return h('span', { class: [className, 'plugin-icon-text', long ? 'plugin-icon-word' : null], 'aria-hidden': 'true' }, text);
}
