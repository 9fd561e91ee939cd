// How a schedule's due times read on the Schedules page and the dashboard.
// The server gives them as RFC 3339 strings in the schedule's zone; they
// read relative ("in 3 h"), with the full string as the hover title.
import { h } from '../../ui/dom.js';
import { formatIn, rfc3339Seconds } from '../../ui/format.js';

/** A <time> saying how soon `rfc` is; refreshTimes() keeps it current. */
export function dueTime(rfc, className = null) {
  const seconds = rfc3339Seconds(rfc);
  return h('time', { class: className, datetime: rfc, title: rfc, dataset: { due: seconds } }, formatIn(seconds));
}

/** Words every dueTime() inside `root` again: the clock moved on. */
export function refreshTimes(root) {
  for (const el of root.querySelectorAll('time[data-due]')) {
    const text = formatIn(Number(el.dataset.due));
    if (el.textContent !== text) el.textContent = text;
  }
}
