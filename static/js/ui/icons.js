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
  settings: [
    ['path', { d: 'M4 6h16M4 12h16M4 18h16' }],
    ['circle', { cx: 9, cy: 6, r: 2, class: 'icon-solid' }],
    ['circle', { cx: 15, cy: 12, r: 2, class: 'icon-solid' }],
    ['circle', { cx: 8, cy: 18, r: 2, class: 'icon-solid' }],
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
  upcoming: [['path', { d: 'M12 3v3M12 18v3M3 12h3M18 12h3M5.6 5.6l2.1 2.1M16.3 16.3l2.1 2.1M5.6 18.4l2.1-2.1M16.3 7.7l2.1-2.1' }]],
};

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
