// A button that opens a small menu of actions (the user menu, row actions).
// Keyboard: Enter/Space/ArrowDown open it, arrows move, Escape closes it and
// returns focus to the button; a click or focus outside closes it.
import { h } from './dom.js';
import { icon } from './icons.js';

let counter = 0;

/**
 * menuButton({
 *   button: {class, 'aria-label', ...},   // props of the trigger button
 *   content: [nodes],                      // what the trigger shows
 *   header: () => node|null,               // optional, on top of the items
 *   items: () => [{label, icon, onSelect, danger, href}],  // built on open
 *   placement: 'down' | 'up', align: 'start' | 'end',
 * }) → element
 */
export function menuButton({ button: buttonProps = {}, content = [], header = null, items, placement = 'down', align = 'end' }) {
  counter += 1;
  const panelId = `menu-${counter}`;
  const button = h('button', {
    type: 'button', ...buttonProps, 'aria-haspopup': 'menu', 'aria-expanded': false, 'aria-controls': panelId,
    onClick: () => (isOpen() ? close({ restoreFocus: false }) : open({ focus: 'first' })),
    onKeydown: (event) => {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        open({ focus: event.key === 'ArrowDown' ? 'first' : 'last' });
      }
    },
  }, content);
  const panel = h('div', {
    id: panelId, class: ['menu-panel', `menu-${placement}`, `menu-align-${align}`], role: 'menu', hidden: true,
  });
  const wrapper = h('div', { class: 'menu', onKeydown, onFocusout }, button, panel);

  function isOpen() {
    return !panel.hidden;
  }

  function menuItems() {
    return [...panel.querySelectorAll('[role="menuitem"]')];
  }

  function open({ focus }) {
    if (!isOpen()) {
      const top = header ? header() : null;
      panel.replaceChildren(...(top ? [top] : []), ...items().filter(Boolean).map((item) => itemElement(item)));
      panel.hidden = false;
      flipIfCut();
      button.setAttribute('aria-expanded', 'true');
      document.addEventListener('pointerdown', onOutside, true);
    }
    const all = menuItems();
    const target = focus === 'last' ? all[all.length - 1] : all[0];
    if (target) target.focus({ preventScroll: true });
  }

  // A menu that would run off the bottom of the window opens upwards
  // instead, when there is room above.
  function flipIfCut() {
    panel.classList.remove('menu-flipped');
    if (placement !== 'down') return;
    const rect = panel.getBoundingClientRect();
    if (rect.bottom <= window.innerHeight - 8) return;
    if (button.getBoundingClientRect().top - rect.height - 14 > 0) panel.classList.add('menu-flipped');
  }

  function close({ restoreFocus }) {
    if (!isOpen()) return;
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', onOutside, true);
    if (restoreFocus) button.focus({ preventScroll: true });
  }

  function itemElement(item) {
    const kids = [item.icon ? icon(item.icon) : null, h('span', null, item.label)];
    const props = {
      class: ['menu-item', item.danger && 'menu-item-danger'], role: 'menuitem', tabindex: '-1',
      onClick: () => {
        close({ restoreFocus: !item.href });
        if (item.onSelect) item.onSelect();
      },
    };
    return item.href ? h('a', { ...props, href: item.href }, kids) : h('button', { type: 'button', ...props }, kids);
  }

  function onKeydown(event) {
    if (!isOpen()) return;
    const all = menuItems();
    const index = all.indexOf(document.activeElement);
    if (event.key === 'Escape') {
      // Handled here, so an open drawer around the menu stays open.
      event.preventDefault();
      event.stopPropagation();
      close({ restoreFocus: true });
    } else if (event.key === 'ArrowDown' && index !== -1) {
      event.preventDefault();
      all[(index + 1) % all.length].focus();
    } else if (event.key === 'ArrowUp' && index !== -1) {
      event.preventDefault();
      all[(index - 1 + all.length) % all.length].focus();
    } else if (event.key === 'Home' && index !== -1) {
      event.preventDefault();
      all[0].focus();
    } else if (event.key === 'End' && index !== -1) {
      event.preventDefault();
      all[all.length - 1].focus();
    } else if (event.key === 'Tab') {
      close({ restoreFocus: false });
    }
  }

  function onFocusout(event) {
    if (event.relatedTarget instanceof Node && !wrapper.contains(event.relatedTarget)) close({ restoreFocus: false });
  }

  function onOutside(event) {
    if (!wrapper.contains(event.target)) close({ restoreFocus: false });
  }

  wrapper.closeMenu = () => close({ restoreFocus: false });
  return wrapper;
}
