/** Display formats: numbers, bytes, percentages, times and durations (the viewer's locale and zone). */

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** 12,345 */
export const formatInt = (n: number | null | undefined) => (n == null ? '—' : int.format(n));

/** 1.2 k, 3.4 M (for axes and dense cells). */
export function formatCompact(n: number | null | undefined): string {
  if (n == null) return '—';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${dec.format(n / 1e9)} G`;
  if (abs >= 1e6) return `${dec.format(n / 1e6)} M`;
  if (abs >= 1e4) return `${dec.format(n / 1e3)} k`;
  return dec.format(n);
}

/** 1.5 MiB */
export function formatBytes(n: number | null | undefined): string {
  if (n == null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? int.format(v) : dec.format(v)} ${units[i]}`;
}

/** 0.425 → "42.5 %" */
export const formatPercent = (ratio: number | null | undefined) => (ratio == null ? '—' : `${dec.format(ratio * 100)} %`);

/** A date-time as "14:03:22" today, else "Mar 3, 14:03". */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** 75_000 ms → "1m 15s" */
export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** From start to end (or to now while it runs). */
export function runDuration(startedAt: string | null | undefined, finishedAt: string | null | undefined, now: number): string {
  if (!startedAt) return '—';
  return formatDuration((finishedAt ? Date.parse(finishedAt) : now) - Date.parse(startedAt));
}
