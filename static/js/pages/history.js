import { page, pageHeader, upcoming } from '../ui/page.js';

export function mount(root) {
  root.append(page(
    pageHeader('History', 'Every task that ran on this server, with its output.'),
    upcoming('Task history arrives with the script runner.')));
}

export function unmount() {}
