// Line icons drawn on a 24x24 grid, stroked with currentColor.
import { svg } from './dom.js';

const SHAPES = {
  dashboard: [
    ['rect', { x: 3, y: 3, width: 7, height: 9, rx: 1.5 }],
    ['rect', { x: 14, y: 3, width: 7, height: 5, rx: 1.5 }],
    ['rect', { x: 14, y: 12, width: 7, height: 9, rx: 1.5 }],
    ['rect', { x: 3, y: 16, width: 7, height: 5, rx: 1.5 }],
  ],
  monitor: [['path', { d: 'M3 12h4l3-7 4 14 3-7h4' }]],
  scripts: [
    ['rect', { x: 3, y: 4, width: 18, height: 16, rx: 2 }],
    ['path', { d: 'M7 9l3 3-3 3M13 15h4' }],
  ],
  history: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M12 7v5l3 2' }],
  ],
  plugins: [['path', { d: 'M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4' }]],
  schedules: [
    ['path', { d: 'M20 10.5V7a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h5' }],
    ['path', { d: 'M4 10h16M8 3v4M16 3v4' }],
    ['circle', { cx: 17, cy: 17, r: 4 }],
    ['path', { d: 'M17 15.2V17l1.2 1.2' }],
  ],
  settings: [
    ['path', { d: 'M4 6h16M4 12h16M4 18h16' }],
    ['circle', { cx: 9, cy: 6, r: 2, class: 'icon-solid' }],
    ['circle', { cx: 15, cy: 12, r: 2, class: 'icon-solid' }],
    ['circle', { cx: 8, cy: 18, r: 2, class: 'icon-solid' }],
  ],
  alerts: [
    ['path', { d: 'M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z' }],
    ['path', { d: 'M10 21h4' }],
  ],
  menu: [['path', { d: 'M4 6h16M4 12h16M4 18h16' }]],
  close: [['path', { d: 'M6 6l12 12M18 6L6 18' }]],
  success: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M8 12.5l2.7 2.7L16 10' }],
  ],
  error: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M12 7.5v5.5M12 16.5v.01' }],
  ],
  info: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M12 11v5.5M12 7.5v.01' }],
  ],
  server: [
    ['rect', { x: 3, y: 4, width: 18, height: 7, rx: 2 }],
    ['rect', { x: 3, y: 13, width: 18, height: 7, rx: 2 }],
    ['path', { d: 'M7 7.5h.01M7 16.5h.01' }],
  ],
  user: [
    ['circle', { cx: 12, cy: 8, r: 4 }],
    ['path', { d: 'M4 21a8 8 0 0 1 16 0' }],
  ],
  users: [
    ['circle', { cx: 9, cy: 8, r: 3.5 }],
    ['path', { d: 'M2.5 20a6.5 6.5 0 0 1 13 0M16 4.5a3.5 3.5 0 0 1 0 7M18 14.2a6.5 6.5 0 0 1 3.5 5.8' }],
  ],
  plus: [['path', { d: 'M12 5v14M5 12h14' }]],
  key: [
    ['circle', { cx: 8, cy: 15, r: 4 }],
    ['path', { d: 'M10.8 12.2 20 3M16 7l3 3M14 9l2 2' }],
  ],
  logout: [['path', { d: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11' }]],
  chevron: [['path', { d: 'M8 10l4 4 4-4' }]],
  chevronUpDown: [['path', { d: 'M8 9l4-4 4 4M8 15l4 4 4-4' }]],
  prev: [['path', { d: 'M14 6l-6 6 6 6' }]],
  next: [['path', { d: 'M10 6l6 6-6 6' }]],
  copy: [
    ['rect', { x: 9, y: 9, width: 11, height: 11, rx: 2 }],
    ['path', { d: 'M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1' }],
  ],
  check: [['path', { d: 'M5 12.5l4.5 4.5L19 7.5' }]],
  dot: [['circle', { cx: 12, cy: 12, r: 2.5, class: 'icon-solid' }]],
  more: [
    ['circle', { cx: 5, cy: 12, r: 1.6, class: 'icon-solid' }],
    ['circle', { cx: 12, cy: 12, r: 1.6, class: 'icon-solid' }],
    ['circle', { cx: 19, cy: 12, r: 1.6, class: 'icon-solid' }],
  ],
  eye: [
    ['path', { d: 'M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12z' }],
    ['circle', { cx: 12, cy: 12, r: 3 }],
  ],
  eyeOff: [['path', { d: 'M3 3l18 18M10.6 5.1A10.8 10.8 0 0 1 12 5c6.4 0 10 7 10 7a17 17 0 0 1-3.2 4.1M6.6 6.6A17.4 17.4 0 0 0 2 12s3.6 7 10 7a9.8 9.8 0 0 0 5.4-1.6M9.9 9.9a3 3 0 0 0 4.2 4.2' }]],
  shield: [['path', { d: 'M12 3l8 3v6c0 4.5-3.4 8.3-8 9-4.6-.7-8-4.5-8-9V6z' }]],
  lock: [
    ['rect', { x: 4, y: 10, width: 16, height: 11, rx: 2 }],
    ['path', { d: 'M8 10V7a4 4 0 0 1 8 0v3' }],
  ],
  trash: [['path', { d: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3' }]],
  pause: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M10 9v6M14 9v6' }],
  ],
  skip: [['path', { d: 'M5 6.5l8 5.5-8 5.5zM17 6v12' }]],
  play: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M10 8.5v7l5.5-3.5z' }],
  ],
  fingerprint: [['path', { d: 'M12 11v3a8 8 0 0 1-1.5 4.7M8 8.5A5 5 0 0 1 17 11v2.5M6.2 15.5A11 11 0 0 0 7 11a5 5 0 0 1 .2-1.4M16.6 17.5a13 13 0 0 0 .4-2M4 9a9 9 0 0 1 16 2v1M12 11a1 1 0 0 0-1 1' }]],
  cpu: [
    ['rect', { x: 6, y: 6, width: 12, height: 12, rx: 2 }],
    ['rect', { x: 9.5, y: 9.5, width: 5, height: 5, rx: 0.5 }],
    ['path', { d: 'M9 3v3M15 3v3M9 18v3M15 18v3M3 9h3M3 15h3M18 9h3M18 15h3' }],
  ],
  memory: [
    ['rect', { x: 3, y: 7, width: 18, height: 10, rx: 1.5 }],
    ['path', { d: 'M7 10.5v3M11 10.5v3M15 10.5v3M6 17v3M10 17v3M14 17v3M18 17v3' }],
  ],
  swap: [['path', { d: 'M4 8h13l-3-3M20 16H7l3 3' }]],
  disk: [
    ['path', { d: 'M5.5 5h13l2.5 8v5a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-5z' }],
    ['path', { d: 'M3 13h18M17 16.5h.01' }],
  ],
  network: [['path', { d: 'M8 20V5M4 9l4-4 4 4M16 4v15M12 15l4 4 4-4' }]],
  gauge: [
    ['path', { d: 'M4.9 18a9 9 0 1 1 14.2 0' }],
    ['path', { d: 'M12 13l4-5' }],
    ['circle', { cx: 12, cy: 13, r: 1.4, class: 'icon-solid' }],
  ],
  cpuCores: [
    ['rect', { x: 3, y: 3, width: 8, height: 8, rx: 1.5 }],
    ['rect', { x: 13, y: 3, width: 8, height: 8, rx: 1.5 }],
    ['rect', { x: 3, y: 13, width: 8, height: 8, rx: 1.5 }],
    ['rect', { x: 13, y: 13, width: 8, height: 8, rx: 1.5 }],
  ],
  list: [['path', { d: 'M9 6h11M9 12h11M9 18h11M4.5 6h.01M4.5 12h.01M4.5 18h.01' }]],
  arrowDown: [['path', { d: 'M12 5v14M6 13l6 6 6-6' }]],
  arrowUp: [['path', { d: 'M12 19V5M6 11l6-6 6 6' }]],
  upcoming: [['path', { d: 'M12 3v3M12 18v3M3 12h3M18 12h3M5.6 5.6l2.1 2.1M16.3 16.3l2.1 2.1M5.6 18.4l2.1-2.1M16.3 7.7l2.1-2.1' }]],
  edit: [['path', { d: 'M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4' }]],
  // Quick-action icons: an admin picks one of these names for a button.
  bolt: [['path', { d: 'M13 3 5 14h6l-1 7 8-11h-6z' }]],
  refresh: [['path', { d: 'M20 11a8 8 0 0 0-14.6-4.5M4 3v4h4M4 13a8 8 0 0 0 14.6 4.5M20 21v-4h-4' }]],
  power: [['path', { d: 'M12 3v8M7.5 6.3a7 7 0 1 0 9 0' }]],
  download: [['path', { d: 'M12 4v11M7 10l5 5 5-5M5 20h14' }]],
  upload: [['path', { d: 'M12 20V9M7 14l5-5 5 5M5 4h14' }]],
  database: [
    ['ellipse', { cx: 12, cy: 6, rx: 7, ry: 3 }],
    ['path', { d: 'M5 6v12c0 1.7 3.1 3 7 3s7-1.3 7-3V6M5 12c0 1.7 3.1 3 7 3s7-1.3 7-3' }],
  ],
  cloud: [['path', { d: 'M7 19a4.5 4.5 0 0 1-.5-9A6 6 0 0 1 18 9a5 5 0 0 1-.5 10z' }]],
  wrench: [['path', { d: 'M15 3a5 5 0 0 0-4.6 6.9L3.5 16.8a1.8 1.8 0 0 0 0 2.5l1.2 1.2a1.8 1.8 0 0 0 2.5 0l6.9-6.9A5 5 0 0 0 21 9l-3 1.5L15.5 8 17 5z' }]],
  rocket: [
    ['path', { d: 'M12 15l-3-3c1.6-4.6 4.7-7.6 10-9 -1.4 5.3-4.4 8.4-9 10M9 12H5l3-4h4M12 15v4l4-3v-4' }],
    ['path', { d: 'M6 16c-1.5 1-2 3-2 4 1 0 3-.5 4-2' }],
  ],
  mail: [
    ['rect', { x: 3, y: 5, width: 18, height: 14, rx: 2 }],
    ['path', { d: 'M3.5 6.5 12 13l8.5-6.5' }],
  ],
  archive: [
    ['rect', { x: 3, y: 4, width: 18, height: 5, rx: 1.5 }],
    ['path', { d: 'M5 9v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V9M10 13h4' }],
  ],
};

/** The icon names an admin can give a quick action, in the order the
 *  settings form offers them (icon() knows more, all of them usable). */
export const ACTION_ICONS = [
  'bolt', 'play', 'refresh', 'power', 'rocket', 'download', 'upload', 'database', 'archive', 'cloud',
  'server', 'network', 'disk', 'memory', 'cpu', 'wrench', 'trash', 'key', 'shield', 'lock', 'mail',
  'users', 'scripts', 'monitor', 'history',
];

/** Whether `name` is an icon that icon() draws (not a fallback). */
export function hasIcon(name) {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SHAPES, name);
}

/** An inline SVG icon, hidden from assistive technology (labels carry meaning). */
export function icon(name, className = '') {
  const shapes = SHAPES[name] || SHAPES.info;
  return svg('svg', {
    class: ['icon', className], viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false',
  }, shapes.map(([tag, attrs]) => svg(tag, attrs)));
}

/** The Toru mark (a steering wheel); colours come from CSS classes. */
export function brandMark(className = '') {
  return svg('svg', { class: ['brand-mark', className], viewBox: '0 0 32 32', 'aria-hidden': 'true', focusable: 'false' },
    svg('rect', { class: 'brand-mark-bg', width: 32, height: 32, rx: 8 }),
    svg('circle', { class: 'brand-mark-line', cx: 16, cy: 16, r: 9 }),
    svg('circle', { class: 'brand-mark-hub', cx: 16, cy: 16, r: 2.6 }),
    svg('path', { class: 'brand-mark-line', d: 'M16 18.6V25M13.6 15 7.6 13M18.4 15l6-2' }));
}
