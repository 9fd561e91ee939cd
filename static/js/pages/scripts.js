import { page, pageHeader, upcoming } from '../ui/page.js';

export function mount(root) {
  root.append(page(
    pageHeader('Scripts', 'Run the scripts in the scripts directory and follow their output live.'),
    upcoming('The script list and a live terminal arrive with the script runner.')));
}

export function unmount() {}
