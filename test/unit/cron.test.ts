import type { ScheduleConfig } from '../../src/domain';
import { ErrorCode } from '../../src/errors';
import { isValidTimeZone, nextRunAt, validateCron } from '../../src/jobs/cron';

const schedule = (cron: string, extra: Partial<ScheduleConfig> = {}): ScheduleConfig => ({
  cron,
  timezone: 'Europe/Berlin',
  startAt: null,
  endAt: null,
  retryDelaySeconds: 300,
  enabled: true,
  ...extra,
});
const at = (iso: string) => new Date(iso);
/** The next `n` fire times after `from`, as ISO strings. */
function fires(s: ScheduleConfig, from: string, n: number): string[] {
  const out: string[] = [];
  let d = at(from);
  for (let i = 0; i < n; i++) {
    d = nextRunAt(s, d)!;
    out.push(d.toISOString());
  }
  return out;
}

describe('nextRunAt', () => {
  it('keeps local wall-clock time across the spring DST change in Europe/Berlin', () => {
    // 09:00 local is 08:00Z in winter (CET) and 07:00Z from 29 March 2026 (CEST).
    expect(fires(schedule('0 9 * * *'), '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
  });

  it('fires once on the night a skipped or repeated local time occurs', () => {
    // 02:30 does not exist on 29 March (the job runs an hour later) and happens twice on 25 October (it runs once).
    expect(fires(schedule('30 2 * * *'), '2026-03-28T12:00:00Z', 2)).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(fires(schedule('30 2 * * *'), '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('follows the time zone it is given: the same cron in UTC fires at 09:00Z', () => {
    expect(nextRunAt(schedule('0 9 * * *', { timezone: 'UTC' }), at('2026-03-28T08:30:00Z'))!.toISOString()).toBe(
      '2026-03-28T09:00:00.000Z',
    );
  });

  it('returns a time strictly after `after`', () => {
    expect(nextRunAt(schedule('0 * * * *', { timezone: 'UTC' }), at('2026-05-01T10:00:00Z'))!.toISOString()).toBe(
      '2026-05-01T11:00:00.000Z',
    );
  });

  it('does not fire before startAt, and fires exactly at startAt when it is a fire time', () => {
    const s = schedule('0 * * * *', { timezone: 'UTC', startAt: '2026-05-01T10:00:00.000Z' });
    expect(nextRunAt(s, at('2026-04-01T00:00:00Z'))!.toISOString()).toBe('2026-05-01T10:00:00.000Z');
    const offHour = schedule('0 * * * *', { timezone: 'UTC', startAt: '2026-05-01T10:15:00.000Z' });
    expect(nextRunAt(offHour, at('2026-04-01T00:00:00Z'))!.toISOString()).toBe('2026-05-01T11:00:00.000Z');
  });

  it('returns null once the next fire time is past endAt', () => {
    const s = schedule('0 * * * *', { timezone: 'UTC', endAt: '2026-05-01T10:00:00.000Z' });
    expect(nextRunAt(s, at('2026-05-01T09:30:00Z'))!.toISOString()).toBe('2026-05-01T10:00:00.000Z');
    expect(nextRunAt(s, at('2026-05-01T10:00:00Z'))).toBeNull();
  });

  it('returns null for a disabled schedule', () => {
    expect(nextRunAt(schedule('* * * * *', { enabled: false }), at('2026-05-01T00:00:00Z'))).toBeNull();
  });
});

describe('validateCron', () => {
  it.each([
    ['too few fields', '* * * *'],
    ['letters', 'a b c d e'],
    ['minute out of range', '61 * * * *'],
    ['a day that never exists', '0 0 31 2 *'],
  ])('rejects %s as BAD_USER_INPUT on the cron field', (_what, cron) => {
    expect(() => validateCron(cron, 'UTC')).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT, field: 'input.schedule.cron' }),
    );
  });

  it('accepts five fields, and six with seconds', () => {
    expect(() => validateCron('*/15 9-17 * * 1-5', 'Europe/Berlin')).not.toThrow();
    expect(() => validateCron('*/5 * * * * *', 'UTC')).not.toThrow();
  });

  it('rejects an unknown time zone on the timezone field, under the path it is given', () => {
    expect(() => validateCron('0 * * * *', 'Europe/Atlantis', 'input.schedule')).toThrow(
      expect.objectContaining({ field: 'input.schedule.timezone' }),
    );
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('Not/AZone')).toBe(false);
  });
});
