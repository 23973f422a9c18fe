import type { LogLineFieldsFragment } from '../../client';
import type { Command } from '../command';
import { CliError, EXIT } from '../exit-codes';
import { logLine } from '../format';
import { followRun, storedLogs } from '../run-follow';
import { LOG_LEVELS, oneOf, str } from '../values';

/** `jobwire logs <run>`. */
export const logsCommand: Command = {
  name: 'logs',
  args: ['<run>'],
  summary: "print a run's stored log lines; --follow: then live ones until the run ends",
  description: 'Each line: time (UTC), level, [source] and message. --json prints one JSON object a line (with its seq).',
  options: {
    follow: { type: 'boolean', short: 'f', description: 'keep printing new lines until the run has ended' },
    level: { type: 'string', value: 'LEVEL', description: `lowest level: ${LOG_LEVELS.join(', ')} (default DEBUG: all)` },
    after: { type: 'string', value: 'SEQ', description: "only lines after this seq (a line's seq is its cursor; see --json)" },
    json: { type: 'boolean', description: 'one JSON object a line' },
  },
  examples: ['jobwire logs 0190c1d2-… --level WARN', 'jobwire logs 0190c1d2-… -f'],
  async run({ client, io, args, options, signal }) {
    const [runId] = args;
    const minLevel = oneOf('level', options.level, LOG_LEVELS);
    const after = str(options.after);
    if (after !== undefined && !/^\d+$/.test(after))
      throw new CliError('--after must be the seq of a log line (a whole number)', 'BAD_USER_INPUT');
    const print = (lines: LogLineFieldsFragment[]) => {
      for (const l of lines) io.out(options.json ? JSON.stringify(l) : logLine(l, io.paint));
    };
    if (options.follow) await followRun(client, runId, { lines: print }, { minLevel, after, signal });
    else await storedLogs(client, runId, { after, minLevel }, print);
    return EXIT.OK;
  },
};
