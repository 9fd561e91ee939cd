// The app's one WebSocket (/api/ws), shared by every page. Pages call
// subscribe(topic, handler, {signal: ctx.signal}): the subscription ends with
// the page (or call the returned function sooner). A pushed message's type
// is its topic ("resources", "plugins"). This module
// keeps the socket open while someone is signed in, reconnects with backoff
// (1, 2, 4, 8, 15 s) and subscribes again to every topic after a reconnect.
// onConnectionChange() tells pages when to show "Reconnecting…".
//
// Tasks (docs/tasks.md): watchTaskMessages(id, handler) receives every
// message about one task and keeps the socket subscribed to it, again after
// a reconnect (the server then replays the output, starting with
// `started` + replay:true); sendMessage() sends run/cancel; onMessage()
// sees every message (how tasks.js matches a run's `ref`).
//
// Task output comes as binary frames (docs/tasks.md#binary-output-frames):
// every task subscribe asks for them (`binary: true`, and tasks.js on
// `run`), the `started` answer names the task's channel on this socket, and
// a frame reaches the task's handlers as {type: 'stdout'|'stderr', task_id,
// bytes} — raw bytes, a character possibly split between two frames.
import { api, ApiError } from './api.js';
import { getUser, onUserChange } from './session.js';
import { until } from './lifetime.js';

const BACKOFF_S = [1, 2, 4, 8, 15];
// Proxies (Cloudflare's is 100 s) drop idle sockets, and a dead TCP link
// can look open for minutes: ping often, give up on a silent socket.
const PING_EVERY_MS = 25_000;
const SILENT_LIMIT_MS = 60_000;

const topics = new Map(); // topic → Set of handlers
const tasks = new Map();  // task_id → Set of handlers
const listeners = new Set(); // onMessage handlers: every message
const channels = new Map(); // channel number on this socket → task_id (from `started`)
const FRAME_HEADER = 5;     // tag (1 byte), channel (4 bytes, big-endian)
const FRAME_STREAMS = { 1: 'stdout', 2: 'stderr' };
let queue = [];           // messages waiting for the socket to open
const stateListeners = new Set();
let socket = null;
let state = 'idle'; // idle | connecting | connected | reconnecting
let failures = 0;   // connection attempts since the last one that opened
let retryTimer = null;
let pingTimer = null;
let lastHeard = 0;
let generation = 0; // bumped by close(): late callbacks of an old socket are ignored

/** Calls handler(data, message) for every message of type `topic` until
 *  `signal` aborts; returns the function that stops it sooner. Connects on
 *  first use. */
export function subscribe(topic, handler, { signal } = {}) {
  let handlers = topics.get(topic);
  if (!handlers) {
    handlers = new Set();
    topics.set(topic, handlers);
    send({ type: 'subscribe', topic });
  }
  handlers.add(handler);
  connect();
  return until(signal, () => {
    handlers.delete(handler);
    if (handlers.size === 0 && topics.get(topic) === handlers) {
      topics.delete(topic);
      send({ type: 'unsubscribe', topic });
    }
  });
}

/**
 * Calls handler(message) for every message carrying this task_id; returns
 * the function that stops it. The first handler of a task subscribes to it
 * (the server replays its output, then streams it live) unless
 * `subscribed` says the connection already is (it started the task); the
 * last one to stop unsubscribes. After a reconnect every watched task is
 * subscribed again. Ends when `signal` aborts, or with the returned function.
 */
export function watchTaskMessages(taskId, handler, { subscribed = false, signal } = {}) {
  let handlers = tasks.get(taskId);
  if (!handlers) {
    handlers = new Set();
    tasks.set(taskId, handlers);
    if (!subscribed) sendMessage(taskSubscribe(taskId));
  }
  handlers.add(handler);
  connect();
  return until(signal, () => {
    handlers.delete(handler);
    if (handlers.size === 0 && tasks.get(taskId) === handlers) {
      tasks.delete(taskId);
      send({ type: 'unsubscribe', task_id: taskId });
    }
  });
}

/** Subscribes again to a watched task (the server dropped the watcher). */
export function resubscribeTask(taskId) {
  if (tasks.has(taskId)) send(taskSubscribe(taskId));
}

function taskSubscribe(taskId) {
  return { type: 'subscribe', task_id: taskId, binary: true };
}

/** Sends a message now, or when the socket has opened. Returns a function
 *  that withdraws it if it is still waiting (true when it did). Messages
 *  still waiting when the user signs out are dropped. */
export function sendMessage(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    send(message);
    return () => false;
  }
  queue.push(message);
  connect();
  return () => {
    const before = queue.length;
    queue = queue.filter((m) => m !== message);
    return queue.length !== before;
  };
}

/** Calls handler(message) for every message the server sends; returns the
 *  function that stops it. */
export function onMessage(handler, { signal } = {}) {
  listeners.add(handler);
  return until(signal, () => listeners.delete(handler));
}

/** "idle", "connecting", "connected" or "reconnecting". */
export function connectionState() {
  return state;
}

/** Calls fn(state) now and on every change until `signal` aborts; returns
 *  the function that stops it sooner. */
export function onConnectionChange(fn, { signal } = {}) {
  stateListeners.add(fn);
  fn(state);
  return until(signal, () => stateListeners.delete(fn));
}

/** Closes the socket and stops reconnecting (sign-out). The next
 *  subscribe() after a sign-in opens a new one. */
export function close() {
  generation += 1;
  clearTimeout(retryTimer);
  retryTimer = null;
  stopPing();
  if (socket) {
    const old = socket;
    socket = null;
    detach(old);
    old.close(1000, 'Signed out');
  }
  failures = 0;
  queue = [];
  setState('idle');
}

// No socket for a signed-out tab, nor for an admin who must set up
// two-factor sign-in first (the server refuses it the upgrade).
function mayConnect() {
  const user = getUser();
  return Boolean(user) && !user.totp_setup_required;
}

function connect() {
  if (socket || retryTimer || !mayConnect()) return;
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${window.location.host}/api/ws`);
  ws.binaryType = 'arraybuffer';
  socket = ws;
  channels.clear(); // numbers belong to one socket
  if (state !== 'reconnecting') setState('connecting');
  let opened = false;

  ws.onopen = () => {
    opened = true;
    failures = 0;
    lastHeard = Date.now();
    for (const topic of topics.keys()) send({ type: 'subscribe', topic });
    for (const taskId of tasks.keys()) send(taskSubscribe(taskId));
    const waiting = queue;
    queue = [];
    for (const message of waiting) {
      // A subscribe queued before the socket opened was just sent above.
      if (message.type === 'subscribe' && message.task_id && tasks.has(message.task_id)) continue;
      send(message);
    }
    startPing();
    setState('connected');
  };
  ws.onmessage = (event) => {
    lastHeard = Date.now();
    if (event.data instanceof ArrayBuffer) dispatchFrame(event.data);
    else dispatch(event.data);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    stopPing();
    if (!opened) failures += 1;
    scheduleReconnect();
  };
  // An error is always followed by close, which does the work.
  ws.onerror = () => {};
}

function scheduleReconnect() {
  if (!mayConnect()) {
    setState('idle');
    return;
  }
  setState('reconnecting');
  const delay = BACKOFF_S[Math.min(failures, BACKOFF_S.length - 1)] * 1000;
  const gen = generation;
  retryTimer = setTimeout(async () => {
    // The socket's close code cannot say why an upgrade was refused; a
    // session that ended shows here as a 401: api.js announces it
    // (toru:unauthorized), the app signs the user out and shows the login
    // page, and close() follows through onUserChange.
    try {
      await api.get('/api/auth/me');
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
    } finally {
      if (gen === generation) retryTimer = null;
    }
    if (gen === generation) connect();
  }, delay);
}

/** Retries now instead of waiting out the backoff (back online, tab shown). */
function retrySoon() {
  if (state !== 'reconnecting' || !retryTimer) return;
  clearTimeout(retryTimer);
  retryTimer = null;
  failures = 0;
  connect();
}

function dispatch(raw) {
  let message;
  try {
    message = JSON.parse(raw);
  } catch {
    console.warn('Ignoring a WebSocket message that is not JSON');
    return;
  }
  if (!message || typeof message.type !== 'string') return;
  if (message.type === 'pong') return;
  for (const handler of [...listeners]) {
    try {
      handler(message);
    } catch (err) {
      console.error(`A handler for "${message.type}" failed`, err);
    }
  }
  if (message.task_id != null) {
    if (message.type === 'started' && Number.isInteger(message.channel)) channels.set(message.channel, message.task_id);
    dispatchTask(message);
    return;
  }
  if (message.type === 'error') {
    if (message.ref == null) console.warn('The server reported a WebSocket error:', message.data);
    return;
  }
  for (const handler of [...(topics.get(message.type) || [])]) {
    try {
      handler(message.data, message);
    } catch (err) {
      console.error(`A handler for "${message.type}" failed`, err);
    }
  }
}

function dispatchTask(message) {
  for (const handler of [...(tasks.get(message.task_id) || [])]) {
    try {
      handler(message);
    } catch (err) {
      console.error(`A task handler for "${message.type}" failed`, err);
    }
  }
}

// A binary output frame → {type, task_id, bytes} to the task's handlers.
// Tags this client does not know are skipped (the server may add kinds).
function dispatchFrame(buffer) {
  if (buffer.byteLength < FRAME_HEADER) return;
  const view = new DataView(buffer);
  const type = FRAME_STREAMS[view.getUint8(0)];
  const taskId = channels.get(view.getUint32(1));
  if (!type || taskId == null) return;
  dispatchTask({ type, task_id: taskId, bytes: new Uint8Array(buffer, FRAME_HEADER) });
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function startPing() {
  stopPing();
  pingTimer = setInterval(() => {
    if (!socket) return;
    if (Date.now() - lastHeard > SILENT_LIMIT_MS) {
      // close() on a dead link may not fire onclose for a long time.
      const dead = socket;
      socket = null;
      detach(dead);
      dead.close();
      stopPing();
      scheduleReconnect();
      return;
    }
    send({ type: 'ping' });
  }, PING_EVERY_MS);
}

function stopPing() {
  clearInterval(pingTimer);
  pingTimer = null;
}

function detach(ws) {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}

function setState(next) {
  if (state === next) return;
  state = next;
  for (const fn of [...stateListeners]) {
    try {
      fn(state);
    } catch (err) {
      console.error('A connection listener failed', err);
    }
  }
}

onUserChange(() => {
  if (!mayConnect()) close();
  else if (topics.size || tasks.size) connect();
});
window.addEventListener('online', retrySoon);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') retrySoon();
});
