// The Licensed example's page: shows whether this instance is licensed and
// why not, and lets an admin paste a key. Classic script; DOM APIs only.
(function () {
  'use strict';

  var REASONS = {
    missing: 'no licence key has been entered',
    format: 'the key is not a licence key (check that it was copied whole)',
    instance: 'the key was made for another Toru instance',
    expired: 'the key has expired',
    signature: 'the key was not signed by the vendor (wrong or altered key)'
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function answer(response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (!response.ok) throw new Error(data.error || 'HTTP ' + response.status);
      return data;
    });
  }

  window.ToruPlugins = window.ToruPlugins || {};
  window.ToruPlugins.licensed = {
    mount: function (container, api) {
      // toru-* classes are Toru's plugin kit (docs/plugins.md, "Styling a
      // page"): its buttons, inputs and cards, scoped to this container.
      var card = el('section', 'toru-card toru-card-narrow toru-stack');
      var title = el('h2', 'toru-title', 'Licence');
      var state = el('p', 'toru-notice licensed-state', 'Checking the licence…');
      var details = el('dl', 'toru-kv');
      var instance = el('dd', 'toru-mono licensed-instance', '…');
      details.append(el('dt', '', 'Instance id'), instance);
      var form = el('form', 'toru-stack licensed-form');
      var field = el('div', 'toru-field');
      var label = el('label', 'toru-label', 'Licence key');
      var input = el('input', 'toru-input toru-mono licensed-key');
      input.id = 'licensed-key';
      label.htmlFor = input.id;
      input.type = 'text';
      input.autocomplete = 'off';
      input.spellcheck = false;
      var help = el('p', 'toru-help', 'Paste the key the vendor made for the instance id above.');
      input.setAttribute('aria-describedby', 'licensed-key-help');
      help.id = 'licensed-key-help';
      field.append(label, input, help);
      var buttons = el('div', 'toru-row');
      var save = el('button', 'toru-btn toru-btn-primary licensed-save', 'Save key');
      save.type = 'submit';
      var remove = el('button', 'toru-btn licensed-remove', 'Remove key');
      remove.type = 'button';
      buttons.append(save, remove);
      form.append(field, buttons);
      card.append(title, state, details, form);
      container.appendChild(card);
      if (!api.user || api.user.role !== 'admin') {
        form.hidden = true;
      }

      function show(data) {
        state.textContent = data.licensed ? 'Licensed' : 'Not licensed: ' + (REASONS[data.reason] || data.reason);
        state.className = 'toru-notice licensed-state ' + (data.licensed ? 'toru-notice-success' : 'toru-notice-warning');
        state.setAttribute('data-licensed', String(data.licensed));
        state.setAttribute('data-reason', data.reason || '');
        instance.textContent = data.instance_id;
      }

      function send(method, body) {
        var init = { method: method, headers: { 'Content-Type': 'application/json' } };
        if (body) init.body = JSON.stringify(body);
        return api.fetch('license', init).then(answer).then(function (data) {
          show(data);
          api.showToast(data.licensed ? 'Licence accepted' : 'Key saved, but not valid', data.licensed ? 'success' : 'error');
        }).catch(function (error) {
          api.showToast(error.message, 'error');
        });
      }

      form.addEventListener('submit', function (event) {
        event.preventDefault();
        send('PUT', { key: input.value });
      });
      remove.addEventListener('click', function () { send('DELETE'); });

      return api.fetch('').then(answer).then(show).catch(function (error) {
        state.textContent = 'The plugin did not answer: ' + error.message;
      });
    },
    unmount: function (container) {
      container.replaceChildren();
    }
  };
})();
