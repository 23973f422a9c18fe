/**
 * Pure text formatting of the command line: tables, progress bars, durations, log lines. No I/O,
 * no colours unless a {@link Paint} is given, so the unit tests read exactly what a user sees.
 */
import type { LogLevel, RunStatus, StageStatus } from '../client';

/** Colours a piece of text for a status or level; the identity when colours are off. */
export type Paint = (text: string, tone: Tone) => string;
export type Tone = 'ok' | 'bad' | 'warn' | 'busy' | 'dim';

const ANSI: Record<Tone, [number, number]> = { ok: [32, 39], bad: [31, 39], warn: [33, 39], busy: [36, 39], dim: [2, 22] };
/** ANSI colours (for a terminal). */
export const ansiPaint: Paint = (text, tone) => `\x1b[${ANSI[tone][0]}m${text}\x1b[${ANSI[tone][1]}m`;
/** No colours (for pipes, files and NO_COLOR). */
export const noPaint: Paint = (text) => text;

// ESC [ … letter: the colour and cursor sequences this file writes.
// eslint-disable-next-line no-control-regex
const ANSI_SEQUENCE = /\x1b\[[0-9;]*[A-Za-z]/y;

/** Removes ANSI escape sequences (to measure what a terminal shows). */
export const stripAnsi = (s: string) => s.replace(new RegExp(ANSI_SEQUENCE.source, 'g'), '');

/**
 * A table with a header row, columns padded to their widest cell (measured without colour codes),
 * two spaces apart; the last column is not padded. Empty cells show `-`.
 */
export function table(header: string[], rows: (string | null | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => header.map((_, i) => (r[i] === null || r[i] === undefined || r[i] === '' ? '-' : r[i]!)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => stripAnsi(r[i]).length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - stripAnsi(c).length))).join('  '))
    .join('\n');
}

/** `0.425` → `42 %`, floored, so 100 % shows only when the work is done. */
export function percent(fraction: number): string {
  const p = Math.floor(Math.max(0, Math.min(1, fraction)) * 100);
  return `${String(p).padStart(3)} %`;
}

/** A bar of `width` cells for a fraction (clamped to 0..1): `[######------]`. */
export function progressBar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

/** `65_000` → `1m05s`; `3_400` → `3.4s`; below a second: `0.2s`. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h ? `${h}h${String(m).padStart(2, '0')}m${rest}s` : `${m}m${rest}s`;
}

/** 1234567 → `1,234,567`. */
export const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** The tone of a run status. */
export function statusTone(status: RunStatus | StageStatus): Tone {
  switch (status) {
    case 'SUCCEEDED':
    case 'COMPLETED':
      return 'ok';
    case 'FAILED':
      return 'bad';
    case 'CANCELLED':
    case 'CANCELLING':
    case 'SKIPPED':
      return 'warn';
    case 'RUNNING':
      return 'busy';
    default:
      return 'dim';
  }
}

/** The stage fields one progress line shows. */
export interface StageView {
  name: string;
  status: StageStatus;
  totalItems: number;
  completedItems: number;
  failedItems: number;
  progress: number;
  totalIsEstimate: boolean;
  message?: string | null;
}

/**
 * One stage as a line: name, bar, percentage, counts (`~` before an estimated total) and status:
 * `read      [############------------]  50 %  2,500/~5,000  RUNNING`.
 */
export function stageLine(stage: StageView, nameWidth: number, paint: Paint = noPaint, barWidth = 24): string {
  const total = stage.totalItems > 0 ? `${stage.totalIsEstimate ? '~' : ''}${count(stage.totalItems)}` : '?';
  const failed = stage.failedItems > 0 ? paint(` (${count(stage.failedItems)} failed)`, 'bad') : '';
  return [
    stage.name.padEnd(nameWidth),
    progressBar(stage.progress, barWidth),
    percent(stage.progress),
    `${count(stage.completedItems)}/${total}${failed}`,
    paint(stage.status, statusTone(stage.status)),
  ].join('  ');
}

/** The log line fields a printed line shows. */
export interface LogLineView {
  seq: string;
  timestamp: string;
  level: LogLevel;
  message: string;
  source?: string | null;
}

const LEVEL_TONE: Record<LogLevel, Tone> = { DEBUG: 'dim', INFO: 'ok', WARN: 'warn', ERROR: 'bad' };

/**
 * `2026-01-01T10:00:00.123Z INFO  [reader] 5000 rows read` (time in UTC, as the gateway stores it);
 * `short`: the time of day only (`10:00:00.123`), for the watch display.
 */
export function logLine(line: LogLineView, paint: Paint = noPaint, short = false): string {
  const source = line.source ? `[${line.source}] ` : '';
  const time = short ? line.timestamp.slice(11, 23) : line.timestamp;
  return `${paint(time, 'dim')} ${paint(line.level.padEnd(5), LEVEL_TONE[line.level])} ${source}${line.message}`;
}

/** Cuts a line to `width` visible characters (ANSI codes kept), adding `…` when it cut. */
export function fit(line: string, width: number): string {
  if (width <= 0 || stripAnsi(line).length <= width) return line;
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length;) {
    ANSI_SEQUENCE.lastIndex = i;
    const esc = ANSI_SEQUENCE.exec(line);
    if (esc) {
      out += esc[0];
      i += esc[0].length;
      continue;
    }
    if (visible === width - 1) break;
    out += line[i++];
    visible++;
  }
  return `${out}…${out.includes('\x1b[') ? '\x1b[0m' : ''}`;
}

/** A schedule for a table cell: `0 6 * * * Europe/Berlin`, `(paused)` after a disabled one; null without one. */
export function scheduleCell(schedule: { cron: string | null; timezone: string | null; enabled: boolean } | null): string | null {
  if (!schedule?.cron) return null;
  return [schedule.cron, schedule.timezone && schedule.timezone !== 'UTC' ? schedule.timezone : '', schedule.enabled ? '' : '(paused)']
    .filter(Boolean)
    .join(' ');
}
