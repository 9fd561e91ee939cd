// Loading a settings list from the server, one way for every section: the
// newest load wins (an older one is aborted and its answer dropped), the
// list is aria-busy meanwhile, and a failure shows in the list with a retry
// (and a toast). The caller renders what came.
import { api } from '../api.js';
import { scope } from '../lifetime.js';
import { loadError } from './load-error.js';
import { showError } from './toast.js';

/**
 * listLoader(list, {signal, what, title, retry}) → load(url): resolves to
 * the JSON answer, or null when a newer load, the page's end or a failure
 * (already shown: "`what` could not be loaded: …", Retry calls `retry`)
 * came first.
 */
export function listLoader(list, { signal, what, title, retry }) {
  let inflight = null;
  return async function load(url) {
    if (signal.aborted) return null;
    if (inflight) inflight.abort();
    const controller = scope(signal);
    inflight = controller;
    list.setAttribute('aria-busy', 'true');
    try {
      const data = await api.get(url, { signal: controller.signal });
      if (controller.signal.aborted) return null;
      list.removeAttribute('aria-busy');
      return data;
    } catch (err) {
      if (controller.signal.aborted) return null;
      list.removeAttribute('aria-busy');
      list.replaceChildren(loadError(`${what} could not be loaded: ${err.message}`, retry));
      showError(err, title);
      return null;
    } finally {
      if (inflight === controller) inflight = null;
      controller.abort(); // done: let go of the page's signal
    }
  };
}
