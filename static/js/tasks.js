// Running and watching tasks over the shared WebSocket (docs/tasks.md).
//
//   const watch = await runScript('backup.sh', handlers, {signal});  // → {taskId, stop}
//   const stop = watchTask(taskId, handlers, {signal});               // replay, then live
//
// The watch ends when `signal` (a page's ctx.signal) aborts, or with stop().
//   cancelTask(taskId);
//
// handlers (all optional):
//   onStart({task_id, script, trigger, started_by, started_at, replay})
//       replay: true when the server is about to send the output again (a
//       subscribe, or a resubscribe after a reconnect): clear the screen.
//   onOutput(stream, bytes)     stream is "stdout" or "stderr"; bytes a Uint8Array
//       of the script's raw output (binary frames): a UTF-8 character may
//       be split between two calls, so decode as a stream (the terminal does)
//   onCancelled()               the cancel was accepted; onExit follows
//   onExit({code, status, finished_at, exit_text, signal})
//       exit_text says how it ended ("Exit code 1", "Cancelled — stopped by
//       SIGTERM"); code is null when a signal ended the script.
//   onError(text)               a refusal about this task (cancel refused…)
import { onMessage, sendMessage, watchTaskMessages, resubscribeTask } from './live.js';

// How long a run waits for the server's answer (including a reconnect).
const ANSWER_TIMEOUT_MS = 20_000;
// "A watcher that stays stuck for 10 s is dropped with an error and can
// subscribe again": such an error (about a running task we still watch)
// is answered by subscribing again, at most this often.
const RESUBSCRIBE_AFTER_MS = 2_000;

let refs = 0;

/** Calls the handlers for every message about `taskId`; returns stop().
 *  options: {signal} ends the watch, {subscribed} see watchTaskMessages. */
export function watchTask(taskId, handlers = {}, options = {}) {
  let lastResubscribe = 0;
  let ended = false;
  return watchTaskMessages(taskId, (message) => {
    switch (message.type) {
      case 'started':
        if (message.replay) ended = false;
        call(handlers.onStart, message);
        break;
      case 'stdout':
      case 'stderr':
        // live.js asks for binary frames: `bytes`, never JSON `data`.
        if (message.bytes) call(handlers.onOutput, message.type, message.bytes);
        break;
      case 'cancelled':
        call(handlers.onCancelled, message);
        break;
      case 'exit':
        ended = true;
        call(handlers.onExit, message);
        break;
      case 'error':
        // Fell behind: catch up quietly (the replay starts with `started`
        // + replay:true, so the screen is redrawn, not doubled).
        if (!ended && message.code === 'fell_behind' && Date.now() - lastResubscribe > RESUBSCRIBE_AFTER_MS) {
          lastResubscribe = Date.now();
          console.info(`Watching task ${taskId} again: ${message.data}`);
          resubscribeTask(taskId);
          break;
        }
        call(handlers.onError, String(message.data || 'The server refused a request about this task'));
        break;
      default:
        break;
    }
  }, options);
}

/** Starts a script (admins); resolves to {taskId, stop} once the server
 *  answered `started`, rejects with an Error carrying the server's reason. */
export function runScript(script, handlers = {}, options = {}) {
  return run({ type: 'run', script, binary: true }, handlers, options);
}

/** Starts a quick action (any user), like runScript. */
export function runQuickAction(quickActionId, handlers = {}, options = {}) {
  return run({ type: 'run', quick_action_id: quickActionId, binary: true }, handlers, options);
}

/** Asks the server to cancel a task; the answer arrives to its watchers
 *  (`cancelled` then `exit`, or an `error`). */
export function cancelTask(taskId) {
  sendMessage({ type: 'cancel', task_id: taskId });
}

// options.signal ends the watch of the started task, not the task.
function run(message, handlers, { signal } = {}) {
  refs += 1;
  const ref = `r${refs}-${Math.random().toString(36).slice(2, 8)}`;
  return new Promise((resolve, reject) => {
    let timer = null;
    let withdraw = () => false;
    const stopListening = onMessage((answer) => {
      if (answer.ref !== ref) return;
      if (answer.type === 'started' && answer.task_id) {
        finish();
        // Registered while the `started` message is being dispatched, so
        // the handlers see it and all the output after it.
        const stop = watchTask(answer.task_id, handlers, { subscribed: true, signal });
        resolve({ taskId: answer.task_id, stop });
      } else if (answer.type === 'error') {
        finish();
        reject(new Error(String(answer.data || 'The server refused to start it')));
      }
    });
    function finish() {
      clearTimeout(timer);
      stopListening();
    }
    timer = setTimeout(() => {
      finish();
      // Still waiting for the socket: make sure it does not run later.
      withdraw();
      reject(new Error('The server did not answer; check the connection and try again'));
    }, ANSWER_TIMEOUT_MS);
    withdraw = sendMessage({ ...message, ref });
  });
}

function call(fn, ...args) {
  if (typeof fn === 'function') fn(...args);
}
