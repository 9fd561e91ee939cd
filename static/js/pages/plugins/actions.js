// Admin controls for a plugin (enable switch, restart) and the rescan
// button, shared by the Plugins cards and the details view. Each action
// shows progress on its control, then a toast with the outcome; the cards
// themselves change when the server pushes the new state.
import { h } from '../../ui/dom.js';
import { icon } from '../../ui/icons.js';
import { api } from '../../api.js';
import { showToast } from '../../ui/toast.js';
import { fetchPlugin, refreshPlugins } from '../../stores/plugins.js';

let counter = 0;

/** Marks `control` busy while `work()` runs; returns its result. */
async function busy(control, work) {
  control.setAttribute('aria-busy', 'true');
  control.classList.add('is-busy');
  control.disabled = true;
  try {
    return await work();
  } finally {
    control.removeAttribute('aria-busy');
    control.classList.remove('is-busy');
    control.disabled = false;
  }
}

async function act(plugin, action) {
  await api.post(`/api/plugins/${encodeURIComponent(plugin.id)}/${action}`);
  // The push may already have arrived; this makes sure even without it.
  try {
    return await fetchPlugin(plugin.id);
  } catch {
    return null;
  }
}

/**
 * {el, update(plugin)}: the enable switch (a checkbox with role=switch).
 * Invalid plugins cannot be enabled; the switch is then disabled.
 */
export function enableSwitch(initial) {
  counter += 1;
  const inputId = `plugin-enabled-${counter}`;
  let plugin = initial;
  let working = false;
  const input = h('input', {
    type: 'checkbox', role: 'switch', id: inputId, class: 'switch-input',
    dataset: { action: 'toggle' },
    onChange: async () => {
      const enable = input.checked;
      working = true;
      try {
        const fresh = await busy(input, () => act(plugin, enable ? 'enable' : 'disable'));
        const name = (fresh || plugin).name;
        showToast(enable ? `${name} is enabled and starting.` : `${name} is disabled and stopped.`, 'success');
      } catch (err) {
        input.checked = !enable;
        if (!err.handled) showToast(`${plugin.name} could not be ${enable ? 'enabled' : 'disabled'}: ${err.message}`, 'error');
      } finally {
        working = false;
        update(plugin);
      }
    },
  });
  const text = h('span', { class: 'switch-text' });
  const el = h('label', { class: 'switch', for: inputId }, input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }), text);
  function update(next) {
    plugin = next;
    if (working) return;
    input.checked = Boolean(next.enabled);
    input.disabled = next.state === 'invalid';
    // An invalid binary cannot run: nothing to switch.
    el.hidden = next.state === 'invalid';
    text.textContent = next.enabled ? 'Enabled' : 'Disabled';
    input.setAttribute('aria-label', `${next.name} enabled`);
  }
  update(initial);
  return { el, update };
}

/** {el, update(plugin)}: the Restart button. */
export function restartButton(initial) {
  let plugin = initial;
  const el = h('button', {
    type: 'button', class: 'btn btn-sm', dataset: { action: 'restart' },
    onClick: async () => {
      try {
        const fresh = await busy(el, () => act(plugin, 'restart'));
        const state = fresh ? fresh.state : 'restarting';
        showToast(`${plugin.name} restarted${fresh && fresh.pid ? ` (PID ${fresh.pid})` : ''}: ${state}.`, 'success');
      } catch (err) {
        if (!err.handled) showToast(`${plugin.name} could not be restarted: ${err.message}`, 'error');
      }
    },
  }, icon('refresh'), h('span', null, 'Restart'));
  function update(next) {
    plugin = next;
    el.hidden = next.state === 'invalid';
    el.setAttribute('aria-label', `Restart ${next.name}`);
  }
  update(initial);
  return { el, update };
}

/** The page-wide "Rescan" button: looks for added, removed and replaced binaries. */
export function rescanButton() {
  const label = h('span', null, 'Rescan');
  const el = h('button', {
    type: 'button', class: 'btn', dataset: { action: 'rescan' },
    onClick: async () => {
      label.textContent = 'Scanning…';
      try {
        const result = await busy(el, () => api.post('/api/plugins/rescan'));
        await refreshPlugins();
        showToast(rescanSummary(result), 'success');
      } catch (err) {
        if (!err.handled) showToast(`Rescanning the plugins directory failed: ${err.message}`, 'error');
      } finally {
        label.textContent = 'Rescan';
      }
    },
  }, icon('refresh'), label);
  return el;
}

function rescanSummary(result) {
  const parts = [];
  for (const [key, word] of [['added', 'added'], ['removed', 'removed'], ['replaced', 'replaced'], ['invalid', 'invalid']]) {
    const n = Number(result && result[key]) || 0;
    if (n) parts.push(`${n} ${word}`);
  }
  return parts.length ? `Plugins rescanned: ${parts.join(', ')}.` : 'Plugins rescanned: no changes.';
}
