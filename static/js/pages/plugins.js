import { page, pageHeader, upcoming } from '../ui/page.js';

export function mount(root) {
  root.append(page(
    pageHeader('Plugins', 'Add features with plugins that run as separate processes.'),
    upcoming('Plugin cards, health, enable switches and logs arrive with plugin support.')));
}

export function unmount() {}
