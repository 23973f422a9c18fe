import { DateTimeScalar } from '../../resolvers/scalars';

describe('DateTime output', () => {
  it("sends a view's UTC ISO string as it is", () => {
    expect(DateTimeScalar.serialize('2026-11-27T19:00:00.123Z')).toBe('2026-11-27T19:00:00.123Z');
  });

  it('turns other ISO forms and Dates into UTC with milliseconds', () => {
    expect(DateTimeScalar.serialize('2026-11-27T20:00:00+01:00')).toBe('2026-11-27T19:00:00.000Z');
    expect(DateTimeScalar.serialize('2026-11-27T19:00:00Z')).toBe('2026-11-27T19:00:00.000Z');
    expect(DateTimeScalar.serialize(new Date(Date.UTC(2026, 10, 27, 19)))).toBe('2026-11-27T19:00:00.000Z');
  });

  it('refuses what is not a date', () => {
    expect(() => DateTimeScalar.serialize('yesterday')).toThrow(/DateTime cannot represent "yesterday"/);
    expect(() => DateTimeScalar.serialize(42)).toThrow(/expected a Date or an ISO-8601 string/);
  });
});
