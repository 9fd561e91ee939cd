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
      // toru-* classes are Toru's plugin kit (docs/plugins.md, "Styling a
      // page"): its buttons, inputs and cards, scoped to this container.
      var card = el('section', 'toru-card toru-card-narrow toru-stack');
      var greeting = el('h2', 'toru-title hello-greeting', 'Loading…');
      var about = el('p', 'toru-text toru-muted', 'This page is the Hello plugin\'s bundle.js. Each visit you count is kept in Toru\'s key-value store.');
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
