#!/usr/bin/env node
// Hello (Node.js): the hello example plugin in plain Node.js — no npm
// packages — to show that the Toru plugin protocol is language-neutral.
// Copy it to <data>/plugins/node-hello.binary and make it executable.
//
// The protocol in brief (docs/plugins.md has the full specification):
// - `--metadata` prints one JSON object and exits 0.
// - Otherwise: listen on the Unix socket at $TORU_PLUGIN_SOCKET. Toru
//   connects and sends frames: a 4-byte big-endian length, then that many
//   bytes of UTF-8 JSON {type, timestamp, request_id, payload}.
// - `lifecycle` init/shutdown need no reply; `http` gets an `http` reply
//   with the same request_id; the plugin may send `kv` requests, answered
//   with the same request_id; unknown types are ignored.
'use strict';

const fs = require('fs');
const net = require('net');

const METADATA = {
  id: 'node-hello',
  name: 'Hello (Node.js)',
  version: '1.0.0',
  author: 'Toru',
  icon: '🟩',
  route: '/node-hello',
  description: 'The hello example in plain Node.js: says hello and counts visits.',
  concurrent: true, // replies are matched by request_id, so Toru may send requests in parallel
};
const MAX_FRAME = 16 * 1024 * 1024;
const KV_TIMEOUT_MS = 10000;

// Structured logs: one JSON object per line on stderr; Toru keeps the level.
function log(level, message, fields) {
  process.stderr.write(JSON.stringify(Object.assign({ level, message }, fields || {})) + '\n');
}

// ---- frames -----------------------------------------------------------------

function encode(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

function envelope(type, requestId, payload) {
  return { type, timestamp: new Date().toISOString(), request_id: requestId, payload };
}

// Calls onFrame(object) for each complete frame; partial reads are buffered.
function frameReader(onFrame, onError) {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readUInt32BE(0);
      if (size > MAX_FRAME) return onError(new Error(`frame of ${size} bytes is larger than ${MAX_FRAME}`));
      if (pending.length < 4 + size) return undefined;
      const body = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      let message;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch (error) {
        return onError(new Error(`malformed frame: ${error.message}`));
      }
      if (message && typeof message === 'object' && !Array.isArray(message)) onFrame(message);
    }
    return undefined;
  };
}

// ---- one connection from Toru -------------------------------------------------

class Connection {
  constructor(socket) {
    this.socket = socket;
    this.kvWaiting = new Map(); // request_id → {resolve, reject, timer}
    this.nextId = 1;
    socket.on('data', frameReader((m) => this.dispatch(m), (error) => {
      log('error', 'dropping the connection', { error: error.message });
      socket.destroy();
    }));
    socket.on('error', (error) => log('debug', 'connection error', { error: error.message }));
    socket.on('close', () => {
      for (const waiter of this.kvWaiting.values()) waiter.reject(new Error('connection closed'));
      this.kvWaiting.clear();
    });
  }

  send(message) {
    if (!this.socket.destroyed) this.socket.write(encode(message));
  }

  // A KV call to Toru: resolves with the reply payload ({value, keys?, error?}).
  kv(action, key, value) {
    const requestId = `kv-${process.pid}-${this.nextId++}`;
    const fields = value === undefined ? { action, key } : { action, key, value };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kvWaiting.delete(requestId);
        reject(new Error(`kv ${action} got no answer`));
      }, KV_TIMEOUT_MS);
      this.kvWaiting.set(requestId, {
        resolve: (payload) => { clearTimeout(timer); resolve(payload); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.send(envelope('kv', requestId, fields));
    });
  }

  dispatch(message) {
    const payload = message.payload && typeof message.payload === 'object' ? message.payload : {};
    const requestId = message.request_id != null ? message.request_id : payload.request_id;
    if (message.type === 'kv') {
      const waiter = this.kvWaiting.get(requestId);
      if (waiter) {
        this.kvWaiting.delete(requestId);
        if (payload.error) waiter.reject(new Error(payload.error));
        else waiter.resolve(payload);
      }
    } else if (message.type === 'lifecycle') {
      const action = payload.action || message.action;
      if (action === 'init') log('info', 'node-hello is ready', { instance_id: payload.instance_id });
      if (action === 'shutdown') shutdown();
    } else if (message.type === 'http') {
      const request = payload.payload && typeof payload.payload === 'object' ? payload.payload : payload;
      handle(this, request)
        .catch((error) => {
          log('error', 'handler failed', { error: error.stack || String(error) });
          return reply(500, { error: 'internal error in the plugin' });
        })
        .then((answer) => this.send(envelope('http', requestId, answer)));
    } else {
      log('debug', 'ignoring a frame of unknown type', { type: message.type });
    }
  }
}

// ---- the plugin's routes -------------------------------------------------------

function reply(status, body, contentType) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { status, headers: { 'content-type': contentType || 'application/json' }, body: text };
}

let counting = Promise.resolve(); // one visit increment at a time

async function visits(connection) {
  const answer = await connection.kv('get', 'visits');
  return parseInt(answer.value || '0', 10) || 0;
}

async function handle(connection, request) {
  const method = String(request.method || 'GET').toUpperCase();
  const path = String(request.path || '/').split('?')[0];
  const headers = request.headers || {};
  const user = headers['x-toru-user'] || 'stranger';
  if (method === 'GET' && path === '/') {
    return reply(200, { message: `Hello, ${user}!`, visits: await visits(connection) });
  }
  if (method === 'POST' && path === '/visits') {
    const next = counting.then(async () => {
      const count = (await visits(connection)) + 1;
      await connection.kv('set', 'visits', String(count));
      return count;
    });
    counting = next.catch(() => undefined);
    const count = await next;
    log('info', 'visit counted', { user, visits: count });
    return reply(200, { visits: count });
  }
  if (method === 'GET' && path === '/bundle.js') {
    return reply(200, BUNDLE, 'application/javascript; charset=utf-8');
  }
  return reply(404, { error: 'Not found' });
}

// The page, registered as window.ToruPlugins['node-hello']; DOM APIs only.
const BUNDLE = `(function () {
  'use strict';
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function json(response) {
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response.json();
  }
  window.ToruPlugins = window.ToruPlugins || {};
  window.ToruPlugins['node-hello'] = {
    mount: function (container, api) {
      // toru-* classes: Toru's plugin kit (docs/plugins.md, "Styling a page").
      var card = el('section', 'toru-card toru-card-narrow toru-stack');
      var greeting = el('h2', 'toru-title hello-greeting', 'Loading…');
      var about = el('p', 'toru-text toru-muted', 'This page is served by a plugin written in plain Node.js.');
      var stat = el('div', 'toru-stack-sm');
      var count = el('strong', 'toru-stat hello-visits', '…');
      stat.append(el('span', 'toru-muted toru-small hello-count', 'Visits so far'), count);
      var actions = el('div', 'toru-row');
      var button = el('button', 'toru-btn toru-btn-primary hello-visit', 'Count a visit');
      button.type = 'button';
      actions.appendChild(button);
      card.append(greeting, about, stat, actions);
      container.appendChild(card);
      button.addEventListener('click', function () {
        button.disabled = true;
        api.fetch('visits', { method: 'POST' }).then(json).then(function (data) {
          count.textContent = String(data.visits);
          api.showToast('Visit ' + data.visits + ' counted', 'success');
        }).catch(function (error) {
          api.showToast('Could not count the visit: ' + error.message, 'error');
        }).then(function () { button.disabled = false; });
      });
      return api.fetch('').then(json).then(function (data) {
        greeting.textContent = data.message;
        count.textContent = String(data.visits);
      }).catch(function (error) {
        greeting.textContent = 'The plugin did not answer: ' + error.message;
      });
    },
    unmount: function (container) { container.replaceChildren(); }
  };
})();
`;

// ---- main ------------------------------------------------------------------------

const socketPath = process.env.TORU_PLUGIN_SOCKET;
let server = null;

function shutdown() {
  log('info', 'shutting down');
  if (server) server.close();
  try {
    fs.unlinkSync(socketPath);
  } catch (error) {
    // already gone
  }
  process.exit(0);
}

function main(args) {
  if (args.includes('--metadata')) {
    process.stdout.write(JSON.stringify(METADATA) + '\n');
    return;
  }
  if (args.includes('--help') || !socketPath) {
    process.stdout.write(`${METADATA.name} ${METADATA.version}: a Toru plugin.\n` +
      'Install it as <data>/plugins/node-hello.binary; Toru starts it with TORU_PLUGIN_SOCKET set.\n' +
      '  --metadata  print the plugin metadata as JSON\n');
    process.exitCode = socketPath || args.includes('--help') ? 0 : 2;
    return;
  }
  try {
    fs.unlinkSync(socketPath); // a socket left by an earlier run
  } catch (error) {
    // none
  }
  server = net.createServer((socket) => new Connection(socket));
  server.on('error', (error) => {
    log('error', 'cannot listen', { error: error.message, socket: socketPath });
    process.exit(1);
  });
  server.listen(socketPath, () => log('info', 'listening', { socket: socketPath }));
  process.on('SIGTERM', shutdown);
}

main(process.argv.slice(2));
