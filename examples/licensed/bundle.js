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
      var state = el('p', 'licensed-state', 'Checking the licence…');
      var instance = el('p', 'licensed-instance', '');
      var form = el('form', 'licensed-form');
      var label = el('label', '', 'Licence key');
      var input = el('input', 'licensed-key');
      input.type = 'text';
      input.autocomplete = 'off';
      input.spellcheck = false;
      label.appendChild(input);
      var save = el('button', 'btn licensed-save', 'Save key');
      save.type = 'submit';
      var remove = el('button', 'btn licensed-remove', 'Remove key');
      remove.type = 'button';
      form.append(label, save, remove);
      container.append(state, instance, form);
      if (!api.user || api.user.role !== 'admin') {
        form.hidden = true;
      }

      function show(data) {
        state.textContent = data.licensed ? 'Licensed' : 'Not licensed: ' + (REASONS[data.reason] || data.reason);
        state.setAttribute('data-licensed', String(data.licensed));
        state.setAttribute('data-reason', data.reason || '');
        instance.textContent = 'Instance id: ' + data.instance_id;
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
