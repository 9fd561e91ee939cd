// Horizontal usage bars. The fill width is a CSS custom property set through
// the CSSOM (allowed by the CSP, unlike style attributes in markup).
import { h } from './dom.js';

const WARN_AT = 80;
const DANGER_AT = 90;

/** A bar for a 0–100 value; `label` names it for assistive technology. */
export function meter(label, extraClass = null) {
  const fill = h('span', { class: 'meter-fill' });
  return h('span', {
    class: ['meter', extraClass], role: 'meter', 'aria-label': label,
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
  }, fill);
}

/** Sets the bar to `percent` (clamped to 0–100); it turns amber from 80 and
 *  red from 90 unless `tones` is false. `text` is what a screen reader says. */
export function setMeter(el, percent, { text = null, tones = true } = {}) {
  const value = Math.min(100, Math.max(0, Number(percent) || 0));
  el.style.setProperty('--fill', String(value / 100));
  el.setAttribute('aria-valuenow', value.toFixed(1));
  if (text) el.setAttribute('aria-valuetext', text);
  el.dataset.level = !tones ? 'normal' : value >= DANGER_AT ? 'danger' : value >= WARN_AT ? 'warning' : 'normal';
}
