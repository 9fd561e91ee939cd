// A read-only terminal for task output, on xterm.js (vendored in
// static/vendor/xterm, see docs/vendor.md). xterm keeps a bounded scrollback
// and parses what it is given in time slices, so a script printing a million
// lines costs the page a 10,000-line buffer and a busy parser, never a huge
// DOM or one long freeze. Colours come from the --terminal-* tokens.
//
// Output comes as text or as bytes (Uint8Array: a task's binary frames,
// docs/tasks.md#binary-output-frames). Bytes of stdout go to xterm as they
// are: its parser decodes UTF-8 as a stream, so a character split between
// two frames comes out whole. Bytes of stderr are decoded here, as a
// stream too (TextDecoder), because they are recoloured as text.
import { h } from './dom.js';

const SCRIPT_SRC = ['/static/vendor/xterm/xterm.js', '/static/vendor/xterm/addon-fit.js'];
const CSS_HREF = '/static/vendor/xterm/xterm.css';
export const SCROLLBACK = 10_000;
// Text written before xterm has loaded waits here; past this much, the
// oldest is dropped (only a terminal that never loads can get there).
const PENDING_LIMIT = 8 * 1024 * 1024;

const RED = '\x1b[91m'; // bright red: apart from a script's own red (31)
const RESET = '\x1b[0m';
const HIDE_CURSOR = '\x1b[?25l';
// An escape sequence cut off at the end of a chunk: ESC, or ESC [ with
// parameters but no final byte yet, or an OSC without its terminator.
const CUT_ESCAPE = /\x1b(\[[0-9:;<=>?]*[ -/]*|\][^\x07\x1b]*)?$/;
// SGR sequences that end a colour: inside stderr they are followed by red
// again, so stderr stays red after a script's own "reset".
const SGR_RESET = /\x1b\[(0?|[0-9;]*;0?|39)m/g;
const ESC = 0x1b;
const CUT_LIMIT = 64; // a lone escape further from the end than this is not a cut sequence
const NO_BYTES = new Uint8Array(0);

let loading = null;

/** Loads xterm.js and its fit addon once (UMD builds: they define
 *  window.Terminal and window.FitAddon), and the stylesheet. */
export function loadTerminal() {
  if (loading) return loading;
  const styles = new Promise((resolve) => {
    const link = h('link', { rel: 'stylesheet', href: CSS_HREF, onLoad: resolve, onError: resolve });
    // Before our own stylesheets (base.css first), so that our rules about
    // the terminal (tasks.css) win.
    const ours = document.querySelector('link[rel="stylesheet"][href$="/css/base.css"]');
    document.head.insertBefore(link, ours);
  });
  loading = Promise.all([styles, ...SCRIPT_SRC.map(loadScript)]).then(() => {
    if (typeof window.Terminal !== 'function' || !window.FitAddon) throw new Error('xterm.js did not load');
  });
  // Let a later terminal try again (the server may have been briefly away).
  loading.catch(() => { loading = null; });
  return loading;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const existing = document.querySelector(`script[src="${src}"]`);
    if (existing && existing.dataset.loaded) {
      resolve();
      return;
    }
    if (existing) existing.remove();
    const script = h('script', {
      src,
      onLoad: () => { script.dataset.loaded = '1'; resolve(); },
      onError: () => reject(new Error(`Loading ${src} failed`)),
    });
    // Executed in order: the addon needs nothing from xterm at load time,
    // but keep it simple and deterministic.
    script.async = false;
    document.head.append(script);
  });
}

function theme() {
  const css = getComputedStyle(document.documentElement);
  const get = (name) => css.getPropertyValue(name).trim() || undefined;
  return {
    background: get('--terminal-bg'),
    foreground: get('--terminal-fg'),
    cursor: get('--terminal-bg'),
    selectionBackground: get('--terminal-selection'),
    red: get('--terminal-red'),
    brightRed: get('--terminal-bright-red'),
    blue: get('--terminal-blue'),
    magenta: get('--terminal-magenta'),
    brightBlack: get('--terminal-bright-black'),
  };
}

/**
 * terminal({label, size: 'lg' | 'md'}) → {
 *   el,                     // put it in the page; it fits its box
 *   write(data), writeStderr(data), clear(), dispose(),   // data: text or a Uint8Array
 *   text(), ready           // text(): the buffer's text (tests, copy)
 * }
 * Writes before xterm has loaded are kept and written when it has.
 */
export function terminal({ label = 'Output', size = 'md' } = {}) {
  const screen = h('div', { class: 'output-terminal-screen' });
  const el = h('div', { class: ['output-terminal', `output-terminal-${size}`], role: 'region', 'aria-label': label }, screen);
  let term = null;
  let fit = null;
  let observer = null;
  let frame = 0;
  let disposed = false;
  let pending = [];
  let pendingBytes = 0;
  // Per stream, the tail of a chunk that ended inside an escape sequence
  // (kept back so that stderr's red never lands inside one); stdout's bytes
  // keep theirs apart.
  const cut = { out: '', err: '' };
  let cutBytes = NO_BYTES;
  let stderrDecoder = new TextDecoder();

  // data: text or bytes, written to xterm as they are.
  function raw(data) {
    if (!data || !data.length || disposed) return;
    if (term) {
      term.write(data);
      return;
    }
    pending.push(data);
    pendingBytes += data.length;
    while (pendingBytes > PENDING_LIMIT && pending.length > 1) pendingBytes -= pending.shift().length;
  }

  function whole(stream, text) {
    const joined = cut[stream] + String(text);
    const match = CUT_ESCAPE.exec(joined);
    // A lone escape far from the end is not a cut sequence: write it.
    if (match && joined.length - match.index < CUT_LIMIT) {
      cut[stream] = joined.slice(match.index);
      return joined.slice(0, match.index);
    }
    cut[stream] = '';
    return joined;
  }

  // whole() for stdout's bytes: escape sequences are ASCII, so the bytes
  // from the last ESC on are tested as Latin-1 text.
  function wholeBytes(bytes) {
    let joined = bytes;
    if (cutBytes.length) {
      joined = new Uint8Array(cutBytes.length + bytes.length);
      joined.set(cutBytes);
      joined.set(bytes, cutBytes.length);
    }
    cutBytes = NO_BYTES;
    const at = joined.lastIndexOf(ESC);
    if (at >= 0 && joined.length - at < CUT_LIMIT
        && CUT_ESCAPE.test(String.fromCharCode(...joined.subarray(at)))) {
      cutBytes = joined.slice(at);
      return joined.subarray(0, at);
    }
    return joined;
  }

  function asText(data) {
    return typeof data === 'string' ? data : new TextDecoder().decode(data);
  }

  const api = {
    el,
    ready: null,
    /** Writes stdout, text or bytes (ANSI colours and all). */
    write(data) {
      raw(typeof data === 'string' ? whole('out', data) : wholeBytes(data));
    },
    /** Writes stderr, text or bytes, in red whatever colours it sets itself. */
    writeStderr(data) {
      const text = typeof data === 'string' ? data : stderrDecoder.decode(data, { stream: true });
      const body = whole('err', text);
      if (!body) return;
      raw(RED + body.replace(SGR_RESET, (seq) => seq + RED) + RESET);
    },
    /** Empties the screen and the scrollback (before a replay). */
    clear() {
      cut.out = '';
      cut.err = '';
      cutBytes = NO_BYTES;
      stderrDecoder = new TextDecoder();
      pending = [];
      pendingBytes = 0;
      if (term) {
        term.reset();
        term.write(HIDE_CURSOR);
      }
    },
    /** The buffer's text, one line per row, trailing blank lines dropped. */
    text() {
      if (!term) return pending.map(asText).join('');
      const buffer = term.buffer.active;
      const lines = [];
      for (let i = 0; i < buffer.length; i += 1) {
        const line = buffer.getLine(i);
        lines.push(line ? line.translateToString(true) : '');
      }
      while (lines.length && !lines[lines.length - 1]) lines.pop();
      return lines.join('\n');
    },
    /** Resolves once everything written so far has been parsed. */
    flushed() {
      return api.ready.then(() => new Promise((resolve) => (term ? term.write('', resolve) : resolve())));
    },
    dispose() {
      disposed = true;
      cancelAnimationFrame(frame);
      if (observer) observer.disconnect();
      if (term) term.dispose();
      term = null;
      pending = [];
    },
  };
  // Tests read the buffer through this (a property, not an attribute: the
  // text can be megabytes).
  el.toruTerminal = api;

  api.ready = loadTerminal().then(() => {
    if (disposed) return;
    term = new window.Terminal({
      convertEol: true,
      disableStdin: true,
      scrollback: SCROLLBACK,
      cursorBlink: false,
      cursorInactiveStyle: 'none',
      fontFamily: getComputedStyle(document.documentElement).getPropertyValue('--font-mono').trim() || 'monospace',
      fontSize: 13,
      lineHeight: 1.2,
      theme: theme(),
    });
    fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    term.write(HIDE_CURSOR);
    for (const chunk of pending) term.write(chunk);
    pending = [];
    pendingBytes = 0;
    el.classList.add('output-terminal-ready');
    observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(refit);
    });
    observer.observe(el);
    refit();
  });
  api.ready.catch((err) => {
    if (disposed) return;
    console.error('The terminal could not start', err);
    el.classList.add('output-terminal-failed');
    screen.replaceChildren(h('p', { class: 'output-terminal-error' },
      'The terminal could not be loaded. Reload the page to try again.'));
  });

  function refit() {
    if (!term || !fit || disposed) return;
    // A hidden terminal (an inactive tab) has no size to fit to.
    if (!el.isConnected || el.clientWidth === 0 || el.clientHeight === 0) return;
    const dims = fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return;
    if (dims.cols !== term.cols || dims.rows !== term.rows) fit.fit();
  }

  return api;
}
