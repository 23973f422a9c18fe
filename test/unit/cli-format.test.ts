/**
 * The command line's pure parts: tables, progress bars, the watch frame, the exit codes, the
 * command-line parser and the settings from flags and environment (cli/).
 */
import { JobwireError, type RunFieldsFragment, type StageFieldsFragment } from '../../client';
import { parseCommandLine } from '../../cli/args';
import { COMMANDS, errorText } from '../../cli/cli';
import { cliSettings, DEFAULT_URL } from '../../cli/cli-env';
import { CliError, EXIT, exitCodeForError, exitCodeForRun, Interrupted, UsageError } from '../../cli/exit-codes';
import { duration, fit, logLine, percent, progressBar, scheduleCell, stageLine, stripAnsi, table, ansiPaint } from '../../cli/format';
import { hasEnded } from '../../cli/run-follow';
import { runHeadline, watchFrame, WatchModel } from '../../cli/watch.renderer';

const stage = (over: Partial<StageFieldsFragment> = {}): StageFieldsFragment => ({
  name: 'load',
  status: 'RUNNING',
  totalItems: 5000,
  completedItems: 2500,
  failedItems: 0,
  progress: 0.5,
  totalIsEstimate: false,
  message: null,
  startedAt: '2026-01-01T10:00:00.000Z',
  finishedAt: null,
  updatedAt: '2026-01-01T10:00:01.000Z',
  ...over,
});

const run = (over: Partial<RunFieldsFragment> = {}): RunFieldsFragment => ({
  id: '0190c1d2-0000-7000-8000-000000000001',
  number: 3,
  attempt: 1,
  trigger: 'MANUAL',
  status: 'RUNNING',
  backend: 'LOCAL',
  externalId: null,
  engineState: null,
  lastProgressAt: null,
  stalledSince: null,
  progress: 0.42,
  stages: [stage()],
  metrics: null,
  error: null,
  attempts: [],
  deadLettered: false,
  queuedAt: null,
  startedAt: '2026-01-01T10:00:00.000Z',
  finishedAt: null,
  updatedAt: '2026-01-01T10:00:01.000Z',
  job: { id: 'j1', name: 'orders', status: 'RUNNING' },
  ...over,
});

describe('progress bars and numbers', () => {
  it('fills a bar in proportion, clamped to 0..1', () => {
    expect(progressBar(0, 10)).toBe('[----------]');
    expect(progressBar(0.5, 10)).toBe('[#####-----]');
    expect(progressBar(1, 10)).toBe('[##########]');
    expect(progressBar(1.7, 10)).toBe('[##########]');
    expect(progressBar(-1, 10)).toBe('[----------]');
    expect(progressBar(Number.NaN, 4)).toBe('[----]');
  });

  it('shows 100 % only when the work is done (floors)', () => {
    expect(percent(0.999)).toBe(' 99 %');
    expect(percent(1)).toBe('100 %');
    expect(percent(0.05)).toBe('  5 %');
  });

  it('writes durations in seconds below a minute, then minutes and hours', () => {
    expect(duration(3400)).toBe('3.4s');
    expect(duration(65_000)).toBe('1m05s');
    expect(duration(3_725_000)).toBe('1h02m05s');
  });

  it('shows a stage with its bar, percentage, counts (~ for an estimate) and status', () => {
    expect(stageLine(stage(), 6, undefined, 10)).toBe('load    [#####-----]   50 %  2,500/5,000  RUNNING');
    expect(stageLine(stage({ totalIsEstimate: true, failedItems: 3 }), 4, undefined, 10)).toBe(
      'load  [#####-----]   50 %  2,500/~5,000 (3 failed)  RUNNING',
    );
    expect(stageLine(stage({ totalItems: 0, completedItems: 0, progress: 0, status: 'PENDING' }), 4, undefined, 4)).toBe(
      'load  [----]    0 %  0/?  PENDING',
    );
  });
});

describe('tables', () => {
  it('pads columns to the widest cell, shows - for empty cells and does not pad the last column', () => {
    expect(
      table(
        ['NAME', 'ID', 'NOTE'],
        [
          ['orders', '1', null],
          ['x', '22', 'long note'],
        ],
      ),
    ).toBe(['NAME    ID  NOTE', 'orders  1   -', 'x       22  long note'].join('\n'));
  });

  it('measures cells without their colour codes', () => {
    const out = table(['A', 'B'], [[ansiPaint('ok', 'ok'), 'x']]);
    expect(stripAnsi(out)).toBe('A   B\nok  x');
  });

  it('writes a schedule with its zone when not UTC, and says when it is paused', () => {
    expect(scheduleCell(null)).toBeNull();
    expect(scheduleCell({ cron: '0 6 * * *', timezone: 'UTC', enabled: true })).toBe('0 6 * * *');
    expect(scheduleCell({ cron: '0 6 * * *', timezone: 'Europe/Berlin', enabled: false })).toBe('0 6 * * * Europe/Berlin (paused)');
  });

  it('cuts a line to the terminal width without breaking colour codes', () => {
    expect(fit('abcdefgh', 5)).toBe('abcd…');
    expect(fit('abc', 5)).toBe('abc');
    const cut = fit(ansiPaint('abcdefgh', 'ok'), 5);
    expect(stripAnsi(cut)).toBe('abcd…');
    expect(cut.endsWith('\x1b[0m')).toBe(true);
  });

  it('prints a log line with its time, level, source and message', () => {
    expect(
      logLine({ seq: '1', timestamp: '2026-01-01T10:00:00.000Z', level: 'WARN', message: 'bad row at line 3', source: 'reader' }),
    ).toBe('2026-01-01T10:00:00.000Z WARN  [reader] bad row at line 3');
  });
});

describe('exit codes', () => {
  it("maps a run's outcome: 0 SUCCEEDED, 1 FAILED, 3 CANCELLED, none while it runs", () => {
    expect(exitCodeForRun('SUCCEEDED')).toBe(0);
    expect(exitCodeForRun('FAILED')).toBe(1);
    expect(exitCodeForRun('CANCELLED')).toBe(3);
    expect(exitCodeForRun('RUNNING')).toBeUndefined();
    expect(exitCodeForRun('CANCELLING')).toBeUndefined();
  });

  it("maps the gateway's error codes to distinct exit codes", () => {
    const err = (code: string) => new JobwireError([{ message: 'x', extensions: { code } }]);
    expect(exitCodeForError(err('NOT_FOUND'))).toBe(4);
    expect(exitCodeForError(err('UNAUTHENTICATED'))).toBe(5);
    expect(exitCodeForError(err('FORBIDDEN'))).toBe(6);
    expect(exitCodeForError(err('BAD_USER_INPUT'))).toBe(7);
    expect(exitCodeForError(err('CONFLICT'))).toBe(7);
    expect(exitCodeForError(err('NETWORK'))).toBe(8);
    expect(exitCodeForError(err('UNAVAILABLE'))).toBe(8);
    expect(exitCodeForError(err('INTERNAL_SERVER_ERROR'))).toBe(9);
    expect(exitCodeForError(new UsageError('x'))).toBe(2);
    expect(exitCodeForError(new CliError('no job named "x"', 'NOT_FOUND'))).toBe(4);
    expect(exitCodeForError(new Interrupted())).toBe(130);
    expect(exitCodeForError(new Error('boom'))).toBe(9);
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
  });

  it("prints the gateway's code, the field it names and its message, with a hint for the usual causes", () => {
    const bad = new JobwireError([{ message: 'must not be empty', extensions: { code: 'BAD_USER_INPUT', field: 'input.name' } }]);
    expect(errorText(bad, { url: DEFAULT_URL })).toBe('jobwire: BAD_USER_INPUT (input.name): must not be empty');
    const net = new JobwireError([{ message: 'fetch failed', extensions: { code: 'NETWORK' } }]);
    expect(errorText(net, { url: 'http://h:1' })).toBe(
      'jobwire: NETWORK: fetch failed (is a gateway listening at http://h:1? --url or JOBWIRE_URL)',
    );
  });
});

describe('when a run has ended', () => {
  it('ends at SUCCEEDED, CANCELLED and a FAILED run no retry follows; not at a TRANSIENT failure with attempts left', () => {
    expect(hasEnded(run({ status: 'SUCCEEDED' }))).toBe(true);
    expect(hasEnded(run({ status: 'CANCELLED' }))).toBe(true);
    expect(hasEnded(run({ status: 'FAILED', error: { kind: 'PERMANENT', message: 'x', details: null } }))).toBe(true);
    expect(hasEnded(run({ status: 'FAILED', error: { kind: 'TRANSIENT', message: 'x', details: null } }))).toBe(false);
    expect(hasEnded(run({ status: 'FAILED', deadLettered: true, error: { kind: 'TRANSIENT', message: 'x', details: null } }))).toBe(true);
    expect(hasEnded(run({ status: 'CANCELLING' }))).toBe(false);
  });
});

describe('the watch frame', () => {
  it('shows the headline, a bar per stage and the log tail, within the terminal', () => {
    const model = new WatchModel(3);
    model.setRun(run({ stages: [stage({ name: 'read' }), stage({ name: 'load', progress: 0.1 })] }));
    model.addLines(
      ['a', 'b', 'c', 'd'].map((m, i) => ({
        seq: String(i),
        timestamp: '2026-01-01T10:00:00.123Z',
        level: 'INFO' as const,
        message: m,
        runId: 'r',
        attempt: 1,
        source: null,
      })),
    );
    const frame = watchFrame(model, { columns: 100, rows: 24, now: Date.parse('2026-01-01T10:00:05Z'), paint: (t) => t });
    expect(frame[0]).toBe('orders #3  RUNNING  attempt 1  42 %  5.0s');
    expect(frame[1]).toMatch(/^ {2}read {2}\[#+-+\] {3}50 %/);
    expect(frame[2]).toMatch(/^ {2}load {2}\[#+-+\] {3}10 %/);
    expect(frame.slice(4)).toEqual(['10:00:00.123 INFO  b', '10:00:00.123 INFO  c', '10:00:00.123 INFO  d']);
    expect(watchFrame(model, { columns: 100, rows: 6, now: 0, paint: (t) => t })).toHaveLength(5);
    expect(Math.max(...watchFrame(model, { columns: 20, rows: 24, now: 0, paint: (t) => t }).map((l) => l.length))).toBeLessThanOrEqual(19);
  });

  it('keeps the newer of two messages of a stage, whichever stream brought it', () => {
    const model = new WatchModel();
    model.setStage(stage({ progress: 0.8, updatedAt: '2026-01-01T10:00:05.000Z' }));
    model.setRun(run({ stages: [stage({ progress: 0.5, updatedAt: '2026-01-01T10:00:01.000Z' })] }));
    expect(model.stages.get('load')?.progress).toBe(0.8);
  });

  it('says why a run failed and whether a retry is due', () => {
    expect(runHeadline(run({ status: 'FAILED', error: { kind: 'TRANSIENT', message: 'refused', details: null } }), 0)).toMatch(
      /FAILED .*: TRANSIENT: refused \(a retry is due\)$/,
    );
    expect(runHeadline(run({ status: 'FAILED', error: { kind: 'PERMANENT', message: 'no such file', details: null } }), 0)).toMatch(
      /: PERMANENT: no such file$/,
    );
  });
});

describe('the command line', () => {
  it('takes options before or after the command and checks each belongs to it', () => {
    const p = parseCommandLine(['--url', 'http://h:1', 'stop', 'r1', '--force'], COMMANDS);
    expect(p.command?.name).toBe('stop');
    expect(p.args).toEqual(['r1']);
    expect(p.options).toMatchObject({ url: 'http://h:1', force: true });
    expect(() => parseCommandLine(['jobs', '--force'], COMMANDS)).toThrow(new UsageError('jobs does not take --force'));
    expect(() => parseCommandLine(['stop'], COMMANDS)).toThrow(/stop needs <run>/);
    expect(() => parseCommandLine(['nope'], COMMANDS)).toThrow(/unknown command "nope"/);
    expect(() => parseCommandLine(['jobs', '--bogus'], COMMANDS)).toThrow(UsageError);
    expect(parseCommandLine(['logs', '--help'], COMMANDS)).toMatchObject({ help: true, command: { name: 'logs' } });
  });

  it('takes the URL and token from flags over JOBWIRE_URL and JOBWIRE_TOKEN, with a default URL', () => {
    expect(cliSettings({}, {})).toEqual({ url: DEFAULT_URL, token: undefined, color: true });
    expect(cliSettings({}, { JOBWIRE_URL: 'http://e:1', JOBWIRE_TOKEN: 'env', NO_COLOR: '1' })).toEqual({
      url: 'http://e:1',
      token: 'env',
      color: false,
    });
    expect(cliSettings({ url: 'http://f:2', token: 'flag' }, { JOBWIRE_URL: 'http://e:1', JOBWIRE_TOKEN: 'env' })).toMatchObject({
      url: 'http://f:2',
      token: 'flag',
    });
  });
});
