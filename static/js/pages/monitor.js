import { page, pageHeader, upcoming } from '../ui/page.js';

export function mount(root) {
  root.append(page(
    pageHeader('System Monitor', 'CPU, memory, disks and network of this server.'),
    upcoming('Live charts arrive with system monitoring.')));
}

export function unmount() {}
