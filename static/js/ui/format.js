// Human-readable formatting shared by pages.

/** 42 → "42 s", 125 → "2 min", 7260 → "2 h 1 min", 90000 → "1 d 1 h". */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** 59 → "0:59", 185 → "3:05": a countdown as minutes and seconds. */
export function formatCountdown(totalSeconds) {
  const s = Math.max(0, Math.ceil(Number(totalSeconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** Unix seconds → "12 Mar 2025, 14:03:22" in the browser's locale. */
export function formatDateTime(unixSeconds) {
  return dateTime.format(new Date(Number(unixSeconds) * 1000));
}

/** Unix seconds → "12 Mar 2025". */
export function formatDate(unixSeconds) {
  return dateOnly.format(new Date(Number(unixSeconds) * 1000));
}

/** Unix seconds → "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(unixSeconds, now = Date.now()) {
  const s = Math.floor(now / 1000 - Number(unixSeconds));
  if (s < 45) return 'just now';
  return `${formatDuration(s).replace(/ \d+ (min|h)$/, '')} ago`;
}

/** Unix seconds → "in a few seconds", "in 5 min", "in 3 h", "in 2 d" ("now" once passed). */
export function formatIn(unixSeconds, now = Date.now()) {
  const s = Math.floor(Number(unixSeconds) - now / 1000);
  if (s < 1) return 'now';
  if (s < 45) return 'in a few seconds';
  return `in ${formatDuration(Math.max(60, s)).replace(/ \d+ (min|h)$/, '')}`;
}

/** An RFC 3339 time ("2026-12-03T03:00:00+01:00") → Unix seconds (NaN if not one). */
export function rfc3339Seconds(text) {
  return Date.parse(String(text)) / 1000;
}

const wallClock = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  timeZone: 'UTC',
});

/** An RFC 3339 time → "Thu, 3 Dec 2026, 03:00:00": its own wall clock (the
 *  zone its offset stands for), not the browser's; the text itself if it is
 *  not one. */
export function formatZoned(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})/.exec(String(text));
  if (!m) return String(text);
  const [, y, mo, d, hh, mm, ss] = m.map(Number);
  return wallClock.format(new Date(Date.UTC(y, mo - 1, d, hh, mm, ss)));
}

/** Unix seconds → ISO 8601, for <time datetime>. */
export function isoTime(unixSeconds) {
  return new Date(Number(unixSeconds) * 1000).toISOString();
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 512 → "512 B", 1536 → "1.5 KiB", 8.3e9 → "7.7 GiB" (powers of 1024). */
export function formatBytes(bytes) {
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // 1023.96 KiB would print as "1024.0 KiB": round first, then step up.
  if (unit > 0 && Number(value.toFixed(value >= 100 ? 0 : 1)) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** Bytes per second → "1.2 MiB/s". */
export function formatRate(bytesPerSecond) {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 23.456 → "23.5%", null → "—". */
export function formatPercent(value, digits = 1) {
  if (value == null || !Number.isFinite(Number(value))) return '—';
  return `${Number(value).toFixed(digits)}%`;
}

/** 0.4567 → "0.46": load averages and other small ratios. */
export function formatNumber(value, digits = 2) {
  if (value == null || !Number.isFinite(Number(value))) return '—';
  return Number(value).toFixed(digits);
}

const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** Unix seconds → "14:03:22" in the browser's locale. */
export function formatTime(unixSeconds) {
  return clock.format(new Date(Number(unixSeconds) * 1000));
}
