// The channel editor, a dialog (admins): name, type and the type's config —
// a webhook's preset (generic, Slack, Discord, ntfy, Telegram) and its
// fields, email's SMTP fields, Apprise's URLs (offered only when the server
// has Apprise; otherwise its reason is shown). Secrets are write-only: they
// show as set or unset, and can be replaced or cleared (fields.js).
import { h } from '../../ui/dom.js';
import { modal } from '../../ui/dialog.js';
import { formError, saveRecord } from '../../ui/form.js';
import { fieldErrors, showSubmitError } from '../../ui/field-errors.js';
import { checkbox, field, numberInput, readNumber, secretField, select, textInput } from './fields.js';

export const TYPES = { webhook: 'Webhook', email: 'Email (SMTP)', apprise: 'Apprise' };
export const PRESETS = {
  generic: 'Generic JSON', slack: 'Slack', discord: 'Discord', ntfy: 'ntfy', telegram: 'Telegram bot',
};
const SECURITY = { none: 'None (plain SMTP)', starttls: 'STARTTLS', tls: 'TLS from the start' };
const URL_HELP = {
  generic: 'Where each notification is POSTed as JSON.',
  slack: 'The Incoming Webhook URL (https://hooks.slack.com/services/…).',
  discord: 'The channel’s webhook URL (https://discord.com/api/webhooks/…).',
  ntfy: 'The server and topic, e.g. https://ntfy.sh/my-server-alerts.',
  telegram: 'Optional: your own Bot API server (default https://api.telegram.org).',
};

/** Resolves to the saved channel, or undefined when closed without saving. */
export function openChannelEditor(channel, { types, signal }) {
  return modal({
    title: channel ? `Edit ${channel.name}` : 'New channel',
    description: channel ? null : 'Where notifications go: a webhook, a chat, ntfy, or email.',
    className: 'dialog-wide',
  }, (close) => channelForm(channel, { types, signal, close }));
}

function channelForm(channel, { types, signal, close }) {
  const name = textInput('name', channel ? channel.name : '', { autofocus: true, maxlength: 100 });
  const type = select('type', Object.entries(TYPES).map(([t, label]) => {
    const info = types[t] || { available: false };
    return [t, info.available ? label : `${label} (not available)`, !info.available && !(channel && channel.type === t)];
  }), channel ? channel.type : 'webhook');
  const reason = h('p', { class: 'field-help', dataset: { typeReason: '' } });
  const common = fieldErrors({ name, type });
  const slot = h('div', { class: 'alert-channel-config' });
  const error = formError();
  let config = null;

  function build(preset) {
    const t = type.value;
    const info = types[t] || {};
    // Why a type cannot be chosen (Apprise not installed): under the select.
    reason.textContent = Object.entries(types).filter(([, i]) => i.available === false)
      .map(([k, i]) => `${TYPES[k] || k}: ${i.reason || 'not available on this server'}.`).join(' ');
    const stored = channel && channel.type === t ? channel.config : {};
    config = configFields(t, preset || stored.preset || 'generic', stored, info, () => build(config.preset()));
    slot.replaceChildren(config.el);
  }
  type.addEventListener('change', () => build(null));
  build(null);

  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, channel ? 'Save changes' : 'Create channel');
  async function onSubmit(event) {
    event.preventDefault();
    error.clear();
    common.clear();
    config.errors.clear();
    const body = { name: name.value.trim(), type: type.value, config: config.read() };
    const data = await saveRecord({
      submit, path: '/api/alerts/channels', id: channel ? channel.id : null, body, signal,
      onError: (err) => showSubmitError(err, { error, errors: common, notDone: 'Not saved', marked: 'above',
        sections: [{ prefix: 'config.', errors: config.errors }] }),
    });
    if (data) close(data.channel);
  }

  return h('form', { class: 'form alert-channel-form', noValidate: true, onSubmit },
    h('div', { class: 'alert-form-row' }, field('Name', name),
      h('div', { class: 'field' }, h('label', { for: type.id }, 'Type'), type, reason)),
    slot,
    error.element,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', onClick: () => close(undefined) }, 'Cancel'), submit));
}

// The fields of one type (and preset): {el, errors, read(), preset()}.
function configFields(t, preset, stored, info, onPreset) {
  const plain = (key, props = {}) => textInput(`config.${key}`, typeof stored[key] === 'string' || typeof stored[key] === 'number' ? stored[key] : '', props);
  const inputs = {};
  const secrets = {};
  const parts = [];
  const secret = (key, label, opts) => {
    secrets[key] = secretField(key, label, stored[key], opts);
    inputs[`config.${key}`] = secrets[key].input;
    parts.push(secrets[key].el);
  };
  const add = (key, label, input, help) => {
    inputs[`config.${key}`] = input;
    parts.push(field(label, input, help));
  };
  let presetInput = null;

  if (t === 'webhook') {
    presetInput = select('config.preset', (info.presets || Object.keys(PRESETS)).map((p) => [p, PRESETS[p] || p]), preset);
    presetInput.addEventListener('change', onPreset);
    add('preset', 'Preset', presetInput, 'Shapes the request for the service.');
    if (preset === 'slack' || preset === 'discord') {
      secret('url', 'Webhook URL', { help: `${URL_HELP[preset]} It is the credential, so it is a secret.`, required: true });
    } else if (preset === 'telegram') {
      secret('token', 'Bot token', { help: 'From @BotFather, like 123456:ABC-…', required: true });
      add('chat_id', 'Chat id', plain('chat_id', { placeholder: '-1001234567890 or @channel' }));
      add('url', 'Bot API server', plain('url', { type: 'url', placeholder: 'https://api.telegram.org' }), URL_HELP.telegram);
    } else {
      add('url', 'URL', plain('url', { type: 'url', placeholder: preset === 'ntfy' ? 'https://ntfy.sh/my-topic' : 'https://' }), URL_HELP[preset]);
      secret('token', preset === 'ntfy' ? 'Access token' : 'Bearer token', { help: 'Sent as Authorization: Bearer …' });
      secret('secret', 'Signing secret', { help: 'Signs each body: X-Toru-Signature: sha256=<HMAC>.' });
    }
  } else if (t === 'email') {
    const security = select('config.security', Object.entries(SECURITY), stored.security || 'starttls');
    const port = numberInput('config.port', stored.port ?? '', { min: 1, max: 65535, step: 1 });
    const ports = info.default_ports || {};
    const hint = () => { port.placeholder = String(ports[security.value] || ''); };
    security.addEventListener('change', hint);
    hint();
    add('host', 'SMTP server', plain('host', { placeholder: 'smtp.example.com' }));
    add('security', 'Encryption', security);
    add('port', 'Port', port, 'Empty: the usual port for the encryption chosen.');
    add('username', 'User name', plain('username'), 'Optional, with the password.');
    secret('password', 'Password');
    add('from', 'From', plain('from', { placeholder: 'Toru <toru@example.com>' }));
    const to = textInput('config.to', Array.isArray(stored.to) ? stored.to.join(', ') : '', { placeholder: 'oncall@example.com, ops@example.com' });
    add('to', 'To', to, 'One or more addresses, separated by commas.');
    const verify = checkbox('config.tls_verify', 'Check the server’s TLS certificate', stored.tls_verify ?? true,
      'Turn off only for a relay you trust with a self-signed certificate.');
    inputs['config.tls_verify'] = verify.input;
    parts.push(verify.el);
  } else {
    secret('urls', 'Apprise URLs', { help: 'One or more, separated by spaces, e.g. tgram://token/chat.', required: true });
  }

  const read = () => {
    const out = {};
    for (const [name, input] of Object.entries(inputs)) {
      const key = name.slice('config.'.length);
      if (secrets[key]) {
        const value = secrets[key].read();
        if (value !== undefined) out[key] = key === 'urls' && typeof value === 'string' ? value.split(/\s+/).filter(Boolean) : value;
      } else if (input.type === 'checkbox') {
        out[key] = input.checked;
      } else if (key === 'port') {
        const n = readNumber(input);
        if (n !== undefined) out[key] = n;
      } else if (input.value.trim()) {
        out[key] = input.value.trim();
      }
    }
    return out;
  };
  return {
    el: h('div', { class: 'alert-config-fields', dataset: { configType: t, preset: t === 'webhook' ? preset : null } }, parts),
    errors: fieldErrors(inputs),
    read,
    preset: () => (presetInput ? presetInput.value : null),
  };
}
