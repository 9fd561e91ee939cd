// The System Monitor's data: GET /api/resources/history turned into flat
// arrays aligned with `timestamps`, extended in place by live samples.
// Charts read these arrays; they never keep copies of their own.

const HOUR = 3600;

/** The history answer → {range, step, timestamps, cpu, cpu_max, cores: [[]],
 *  mem, swap, load1, net: {iface: {rx, tx}}, read, write}. Tolerates series
 *  that are missing or, with no points yet, empty lists instead of maps. */
export function normalize(raw) {
  const timestamps = Array.isArray(raw.timestamps) ? raw.timestamps.slice() : [];
  const s = raw.series || {};
  const n = timestamps.length;
  const list = (v) => (Array.isArray(v) && v.length === n && !v.some(Array.isArray) ? v.slice() : nulls(n));
  const map = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const io = map(s.disk_io);
  return {
    range: raw.range,
    step: Number(raw.step_s) || 2,
    timestamps,
    cpu: list(s.cpu),
    cpu_max: raw.range === '24h' ? list(s.cpu_max) : null,
    cores: Array.isArray(s.cores) ? s.cores.filter(Array.isArray).map(list) : [],
    mem: list(s.mem),
    swap: list(s.swap),
    load1: list(s.load1),
    net: Object.fromEntries(Object.entries(map(s.net)).map(([name, v]) => [name, { rx: list(map(v).rx), tx: list(map(v).tx) }])),
    read: list(io.read),
    write: list(io.write),
  };
}

function nulls(n) {
  return new Array(n).fill(null);
}

function allArrays(hist) {
  return [hist.timestamps, hist.cpu, hist.mem, hist.swap, hist.load1, hist.read, hist.write, ...hist.cores,
    ...Object.values(hist.net).flatMap((io) => [io.rx, io.tx])];
}

/**
 * Appends one WebSocket sample to a 1 h history and drops points older than
 * an hour. Returns 'none' (nothing appended: older, or a first sample without
 * rates, which the server keeps out of its history too), 'data' or 'shape'
 * (a new core or interface: the charts must be rebuilt).
 */
export function appendSample(hist, sample) {
  if (!sample || sample.warming_up || !Number.isFinite(sample.timestamp)) return 'none';
  const ts = hist.timestamps;
  const last = ts.length ? ts[ts.length - 1] : null;
  if (last != null && sample.timestamp <= last) return 'none';

  let shape = false;
  const cores = Array.isArray(sample.cpu_per_core) ? sample.cpu_per_core : [];
  while (hist.cores.length < cores.length) {
    hist.cores.push(nulls(ts.length));
    shape = true;
  }
  for (const net of sample.networks || []) {
    if (!hist.net[net.interface]) {
      hist.net[net.interface] = { rx: nulls(ts.length), tx: nulls(ts.length) };
      shape = true;
    }
  }

  // Samples missed while the socket was down: a null point breaks the line
  // instead of drawing a straight one across the gap.
  const step = Number(sample.interval_s) || hist.step;
  if (last != null && sample.timestamp - last > step * 3) pushRow(hist, last + step, null);
  pushRow(hist, sample.timestamp, sample);
  hist.step = step;
  trim(hist, sample.timestamp - HOUR);
  return shape ? 'shape' : 'data';
}

function pushRow(hist, timestamp, s) {
  const value = (v) => (s && v != null && Number.isFinite(Number(v)) ? Number(v) : null);
  hist.timestamps.push(timestamp);
  hist.cpu.push(value(s && s.cpu_percent));
  hist.cores.forEach((values, i) => values.push(value(s && s.cpu_per_core && s.cpu_per_core[i])));
  hist.mem.push(value(s && s.memory_percent));
  hist.swap.push(value(s && s.swap_percent));
  hist.load1.push(value(s && s.load_average && s.load_average[0]));
  const nets = new Map(((s && s.networks) || []).map((n) => [n.interface, n]));
  for (const [name, io] of Object.entries(hist.net)) {
    const n = nets.get(name);
    io.rx.push(value(n && n.rx_bytes_per_s));
    io.tx.push(value(n && n.tx_bytes_per_s));
  }
  hist.read.push(value(s && s.disk_io && s.disk_io.read_bytes_per_s));
  hist.write.push(value(s && s.disk_io && s.disk_io.write_bytes_per_s));
  if (hist.cpu_max) hist.cpu_max.push(null);
}

function trim(hist, cutoff) {
  let k = 0;
  while (k < hist.timestamps.length && hist.timestamps[k] < cutoff) k += 1;
  if (!k) return;
  for (const values of allArrays(hist)) values.splice(0, k);
  if (hist.cpu_max) hist.cpu_max.splice(0, k);
}

/** The interface most worth showing first: the busiest over the range. */
export function busiestInterface(hist) {
  let best = null;
  let bestTotal = -1;
  for (const [name, io] of Object.entries(hist.net)) {
    const total = [...io.rx, ...io.tx].reduce((sum, v) => sum + (v || 0), 0);
    if (total > bestTotal) {
      best = name;
      bestTotal = total;
    }
  }
  return best;
}

/** How many points of the chart's first series hold a value. */
export function countValues(values) {
  return values.reduce((n, v) => n + (v == null ? 0 : 1), 0);
}
