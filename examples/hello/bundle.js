// The Hello plugin's page. A classic script (not a module): Toru loads it
// with a <script> tag and calls mount(container, api) when the page opens,
// unmount(container) when it closes. Text goes in with textContent (never
// parsed as HTML), so nothing the plugin answers can become markup.
(function () {
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
  window.ToruPlugins.hello = {
    mount: function (container, api) {
      var greeting = el('h2', 'hello-greeting', 'Loading…');
      var count = el('strong', 'hello-visits', '…');
      var line = el('p', 'hello-count', 'Visits so far: ');
      line.appendChild(count);
      var button = el('button', 'btn hello-visit', 'Count a visit');
      button.type = 'button';
      container.append(greeting, line, button);

      button.addEventListener('click', function () {
        button.disabled = true;
        // Relative paths are rooted at the plugin's route: POST /visits.
        api.fetch('visits', { method: 'POST' }).then(json).then(function (data) {
          count.textContent = String(data.visits);
          api.showToast('Visit ' + data.visits + ' counted', 'success');
        }).catch(function (error) {
          api.showToast('Could not count the visit: ' + error.message, 'error');
        }).then(function () {
          button.disabled = false;
        });
      });

      return api.fetch('').then(json).then(function (data) {
        greeting.textContent = data.message;
        count.textContent = String(data.visits);
      }).catch(function (error) {
        greeting.textContent = 'The plugin did not answer: ' + error.message;
      });
    },
    unmount: function (container) {
      // Nothing global to undo (no timers, no window listeners): clear the page.
      container.replaceChildren();
    }
  };
})();
