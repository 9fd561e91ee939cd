// Lifetimes hang on an AbortSignal. The router gives every page ctx.signal
// and aborts it when the page is left: timers, subscriptions, listeners and
// fetches started with it end then, and a page needs no unmount().
//
//   every(ctx.signal, 1000, tick);                  // setInterval, cleared on leave
//   const cancel = later(ctx.signal, 300, apply);   // setTimeout, cleared on leave
//   subscribe('resources', show, { signal: ctx.signal });  // live.js, stores: the same option
//   const row = scope(ctx.signal);                  // a shorter lifetime inside the page
//   row.abort();                                    // ends the row early; the page's end ends it too

/** Calls every fn once when `signal` aborts (at once if it already has). */
export function onAbort(signal, ...fns) {
  const run = () => {
    for (const fn of fns) {
      try {
        if (typeof fn === 'function') fn();
      } catch (err) {
        console.error('Cleaning up failed', err);
      }
    }
  };
  if (!signal) return;
  if (signal.aborted) run();
  else signal.addEventListener('abort', run, { once: true });
}

/** setInterval(fn, ms) until `signal` aborts; returns the function that stops it sooner. */
export function every(signal, ms, fn) {
  const timer = setInterval(fn, ms);
  return until(signal, () => clearInterval(timer));
}

/** setTimeout(fn, ms) unless `signal` aborts first; returns the function that cancels it. */
export function later(signal, ms, fn) {
  let cancel = null;
  const timer = setTimeout(() => {
    cancel();
    fn();
  }, ms);
  cancel = until(signal, () => clearTimeout(timer));
  return cancel;
}

/** Runs `stop` when `signal` aborts, or sooner through the returned
 *  function, which also forgets the abort listener (a page that sets a
 *  timer every few seconds must not pile them up). */
export function until(signal, stop) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    if (signal) signal.removeEventListener('abort', run);
    try {
      stop();
    } catch (err) {
      console.error('Cleaning up failed', err);
    }
  };
  if (signal && signal.aborted) run();
  else if (signal) signal.addEventListener('abort', run, { once: true });
  return run;
}

/** An AbortController for a shorter lifetime inside `parent` (one request,
 *  one open row): aborted by abort(), or when `parent` aborts. */
export function scope(parent) {
  const controller = new AbortController();
  if (!parent) return controller;
  if (parent.aborted) {
    controller.abort();
    return controller;
  }
  const follow = () => controller.abort();
  parent.addEventListener('abort', follow, { once: true });
  controller.signal.addEventListener('abort', () => parent.removeEventListener('abort', follow), { once: true });
  return controller;
}
