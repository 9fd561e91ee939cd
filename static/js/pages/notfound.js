// No route matched. One more chance first: a plugin's own route (e.g.
// `/hello`, as its metadata names it) leads to that plugin's page.
import { h } from '../ui/dom.js';
import { page, pageHeader } from '../ui/page.js';
import { api } from '../api.js';

export async function mount(root, ctx) {
  const plugin = await pluginAt(ctx.path, ctx.signal);
  if (ctx.signal.aborted) return;
  if (plugin) {
    ctx.navigate(`/plugin/${encodeURIComponent(plugin.id)}`, { replace: true });
    return;
  }
  root.append(page(
    pageHeader('Not found', 'There is no page at this address.'),
    h('section', { class: 'card card-narrow' },
      h('p', null, 'Nothing lives at ', h('code', { class: 'path' }, ctx.path), '.'),
      h('p', { class: 'card-actions' }, h('a', { class: 'btn btn-primary', href: '/' }, 'Go to the dashboard')))));
}

/** The plugin whose route is this one-segment path, or null. */
async function pluginAt(path, signal) {
  const segments = path.split('/').filter(Boolean);
  if (segments.length !== 1) return null;
  try {
    const { plugins } = await api.get('/api/plugins', { signal });
    return plugins.find((plugin) => plugin.route === `/${segments[0]}` && plugin.state !== 'invalid') || null;
  } catch {
    return null; // the not-found page is the honest answer then
  }
}
