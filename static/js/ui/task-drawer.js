// A task's live output in a drawer (a side sheet on wide screens, a bottom
// sheet on phones), as the original opened a quick action's run: the
// terminal replays what the task printed so far, then follows it live.
// Closing the drawer ends the watch, not the task; its History entry stays.
//
//   openTaskDrawer({taskId, title: action.name, signal: ctx.signal});
import { h } from './dom.js';
import { icon } from './icons.js';
import { modal } from './dialog.js';
import { terminal } from './terminal.js';
import { liveStatus } from './live-status.js';
import { historyHref, statusBadge } from './task-status.js';
import { cancelTask, watchTask } from '../tasks.js';
import { scope } from '../lifetime.js';

/** Opens the drawer; resolves when it is closed. `signal` (the page's)
 *  ends the watch too when the page is left. */
export function openTaskDrawer({ taskId, title, signal = null }) {
  const life = scope(signal);
  const term = terminal({ label: `Output of ${title}`, size: 'md' });
  const run = { status: 'running', cancelling: false };
  const badge = h('span', { class: 'drawer-status' });
  const exit = h('span', { class: 'run-exit', dataset: { exitText: '' }, hidden: true });
  const live = liveStatus({ signal: life.signal });
  const note = h('p', { class: 'field-error drawer-note', role: 'alert', hidden: true });
  const cancel = h('button', {
    type: 'button', class: 'btn btn-sm btn-danger-outline',
    onClick: () => {
      run.cancelling = true;
      update();
      cancelTask(taskId);
    },
  }, icon('close'), h('span', null, 'Cancel run'));
  const body = h('div', { class: 'drawer-body', dataset: { taskId, status: run.status } },
    h('div', { class: 'drawer-head' }, badge, exit, live.el),
    note,
    term.el);

  function update() {
    const running = run.status === 'running';
    body.dataset.status = run.status;
    badge.replaceChildren(statusBadge(run.status, { cancelling: run.cancelling }));
    cancel.hidden = !running;
    cancel.disabled = run.cancelling;
  }
  update();

  watchTask(taskId, {
    onStart: (m) => {
      if (m.replay) term.clear();
    },
    onOutput: (stream, bytes) => {
      if (stream === 'stderr') term.writeStderr(bytes);
      else term.write(bytes);
    },
    onCancelled: () => {
      run.cancelling = true;
      update();
    },
    onExit: (m) => {
      run.status = m.status || (m.code === 0 ? 'success' : 'failed');
      run.cancelling = false;
      exit.textContent = m.exit_text || '';
      exit.hidden = !m.exit_text;
      live.stop();
      live.el.remove();
      update();
    },
    onError: (text) => {
      run.cancelling = false;
      note.textContent = text;
      note.hidden = false;
      update();
    },
  }, { signal: life.signal });

  const closed = modal({ title, className: 'dialog-drawer' }, (close) => [
    body,
    h('div', { class: 'dialog-actions drawer-actions' },
      // A link: the router follows it and closes the drawer on the way.
      h('a', { class: 'btn btn-sm', href: historyHref(taskId) }, icon('history'), h('span', null, 'History entry')),
      cancel,
      h('button', { type: 'button', class: 'btn btn-sm', onClick: () => close(undefined) }, 'Close')),
  ]);
  return closed.finally(() => {
    life.abort();
    term.dispose();
  });
}
