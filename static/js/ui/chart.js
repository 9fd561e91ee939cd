// Time-series line charts on uPlot (vendored in static/vendor/uplot, see
// docs/vendor.md). Colours come from the --chart-* tokens in tokens.css;
// the chart follows its container's width through a ResizeObserver.
import uPlot from '../../vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';
import { formatTime, formatDateTime } from './format.js';

const CSS_HREF = '/static/vendor/uplot/uPlot.min.css';
// Axis labels stay on one line (uPlot's default adds a date line below).
const MIN_SPAN_S = 60; // the narrowest time axis, for a server that just started
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
let cssLoaded = null;

/** Adds uPlot's stylesheet to <head> once, as a <link> to our own copy;
 *  resolves when it has loaded. */
export function loadChartStyles() {
  if (cssLoaded) return cssLoaded;
  cssLoaded = new Promise((resolve) => {
    // On error too: unstyled charts still work, and the page must not wait.
    const link = h('link', { rel: 'stylesheet', href: CSS_HREF, onLoad: resolve, onError: resolve });
    // Before our own stylesheets (base.css first), so our overrides of
    // uPlot's rules (monitor.css) win.
    const ours = document.querySelector('link[rel="stylesheet"][href$="/css/base.css"]');
    document.head.insertBefore(link, ours);
  });
  return cssLoaded;
}

/** Values of the --chart-* tokens (and the font) as the canvas needs them. */
function theme() {
  const css = getComputedStyle(document.documentElement);
  const get = (name) => css.getPropertyValue(name).trim();
  return { get, grid: get('--chart-grid'), axis: get('--chart-axis'), font: get('--font-sans') };
}

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    if (values[i] != null) return values[i];
  }
  return null;
}

// Width of the y axis from its longest label (uPlot's "axis autosize").
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values || []).reduce((acc, v) => (v.length > acc.length ? v : acc), '');
  if (longest) {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

/**
 * timeChart(container, {
 *   series: [{label, color: '--chart-1', fill: '--chart-1-soft', dash: [4, 4]}],
 *   format: (value) => string,       // legend and y-axis labels
 *   axisFormat: (value) => string,   // y-axis labels, when shorter ones read better
 *   range: [0, 100] | null,          // fixed y range, else 0 to the data's max
 *   incrs: [...],                    // y tick steps (binary ones for bytes)
 *   height: 200, longDates: false, // legend times with the date (24 h)
 *   window: 3600,                    // x shows [latest - window, latest]
 * }, data) → {setData(data), destroy()}
 *
 * data is uPlot's [timestamps, values1, values2, …] (unix seconds, null
 * where missing). With the cursor off the chart the legend shows the
 * latest values, so it doubles as a "now" readout.
 */
export function timeChart(container, opts, data) {
  const t = theme();
  const format = opts.format || String;
  const axisFormat = opts.axisFormat || format;
  const height = opts.height || 200;
  const font = `12px ${t.font}`;
  const timeText = opts.longDates ? formatDateTime : formatTime;
  const options = {
    width: Math.max(200, container.clientWidth),
    height,
    cursor: { y: false, drag: { x: false, y: false }, points: { size: 7 } },
    legend: { live: true },
    scales: {
      // The window ("the last hour") once there is that much data; before,
      // the span there is (at least a minute), so a young server's chart
      // is not a sliver at the right edge.
      x: {
        time: true,
        range: (u, min, max) => {
          const end = Math.max(max || 0, Date.now() / 1000);
          if (!opts.window) return [min, max];
          const first = Number.isFinite(min) ? min : end;
          return [Math.max(end - opts.window, Math.min(first, end - MIN_SPAN_S)), end];
        },
      },
      y: {
        range: opts.range
          ? () => opts.range
          // Zero-based, with headroom; a flat zero line still gets a scale.
          : (u, min, max) => [0, max > 0 ? max * 1.1 : 1],
      },
    },
    series: [
      { value: (u, v, si, idx) => (idx == null ? 'Latest' : timeText(v)) },
      ...opts.series.map((s) => ({
        label: s.label,
        stroke: t.get(s.color),
        ...(s.fill ? { fill: t.get(s.fill) } : {}),
        ...(s.dash ? { dash: s.dash } : {}),
        width: s.width || 1.5,
        points: { show: false },
        value: (u, v, si, idx) => {
          const shown = idx == null ? lastValue(u.data[si]) : v;
          return shown == null ? '—' : format(shown);
        },
      })),
    ],
    axes: [
      {
        stroke: t.axis, font, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid, width: 1, size: 4 },
        size: 30, space: 64, values: (u, splits) => splits.map((v) => clock.format(new Date(v * 1000))),
      },
      {
        stroke: t.axis, font, grid: { stroke: t.grid, width: 1 }, ticks: { show: false },
        values: (u, splits) => splits.map((v) => axisFormat(v)), size: axisSize, incrs: opts.incrs,
      },
    ],
  };
  // The x range drawn, for tests and for anyone inspecting the page.
  options.hooks = { setScale: [(u, key) => {
    if (key !== 'x') return;
    container.dataset.xMin = String(Math.round(u.scales.x.min));
    container.dataset.xMax = String(Math.round(u.scales.x.max));
  }] };
  let plot = new uPlot(options, data, container);
  container.dataset.points = String(data[0].length);

  // Follow the container's width; rounding keeps a 0.5 px jitter from
  // redrawing in a loop.
  let width = Math.round(container.clientWidth);
  const observer = new ResizeObserver(() => {
    const next = Math.round(container.clientWidth);
    if (!plot || next === width || next <= 0) return;
    width = next;
    plot.setSize({ width: next, height });
  });
  observer.observe(container);

  return {
    setData(next) {
      if (!plot) return;
      plot.setData(next);
      // Off the chart, refresh the "latest" legend; on it, keep the hovered point.
      if (plot.cursor.idx == null) plot.setLegend({ idx: null });
      container.dataset.points = String(next[0].length);
    },
    destroy() {
      observer.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

const KIB = 1024;
/** y tick steps for byte values: 1, 2, 5, 10, 20… of each binary unit. */
export const BYTE_INCRS = [0, 1, 2, 3, 4, 5].flatMap((power) => [1, 2, 5, 10, 20, 50, 100, 200, 500]
  .map((n) => n * KIB ** power));
