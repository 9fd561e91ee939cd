import { page, pageHeader, upcoming } from '../ui/page.js';

export function mount(root) {
  root.append(page(
    pageHeader('Settings', 'Configure this Toru instance.'),
    upcoming('The scripts directory, quick actions, users, login history, your password and the instance id arrive with their features.')));
}

export function unmount() {}
