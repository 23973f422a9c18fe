import { CronExpressionParser } from 'cron-parser';
import { badInput } from '../errors';
import type { ScheduleConfig } from '../domain';

/** Whether `tz` is an IANA time zone this runtime knows (e.g. `Europe/Berlin`, `UTC`). */
export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Validates a schedule's cron expression (5 fields, or 6 with seconds) and time zone.
 * Throws BAD_USER_INPUT naming `${field}.cron` or `${field}.timezone`.
 */
export function validateCron(cron: string, timezone: string, field = 'input.schedule'): void {
  if (!isValidTimeZone(timezone)) throw badInput(`${field}.timezone`, `unknown IANA time zone ${JSON.stringify(timezone)}`);
  const fields = cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) throw badInput(`${field}.cron`, `expected 5 fields (minute hour day month weekday), got ${fields}`);
  try {
    CronExpressionParser.parse(cron, { tz: timezone, strict: false });
  } catch (err) {
    throw badInput(`${field}.cron`, `invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message}`);
  }
}

/**
 * The first fire time strictly after `after` that lies within [startAt, endAt], or null when the
 * schedule is disabled or has ended.
 */
export function nextRunAt(schedule: ScheduleConfig, after: Date): Date | null {
  if (!schedule.enabled) return null;
  const startAt = schedule.startAt ? new Date(schedule.startAt) : null;
  const endAt = schedule.endAt ? new Date(schedule.endAt) : null;
  // Start looking just before startAt so a fire time exactly at startAt counts.
  const from = startAt && startAt.getTime() > after.getTime() ? new Date(startAt.getTime() - 1) : after;
  const it = CronExpressionParser.parse(schedule.cron, { currentDate: from, tz: schedule.timezone });
  const next = it.next().toDate();
  if (endAt && next.getTime() > endAt.getTime()) return null;
  return next;
}
