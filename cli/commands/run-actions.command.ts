import { RetryRunDocument, StartJobDocument, StopRunDocument, type RunFieldsFragment } from '../../client';
import type { Command, CommandContext } from '../command';
import { EXIT, type ExitCode } from '../exit-codes';
import { statusTone } from '../format';
import { findJob } from '../lookup';
import { LOG_LEVELS, oneOf, str } from '../values';
import { watchRun } from './watch.command';

const idempotencyKey = {
  type: 'string',
  value: 'KEY',
  description: 'the same key within 24 h returns the first call\u2019s run and does nothing again',
} as const;
const json = { type: 'boolean', description: 'print the run as JSON' } as const;

/** Prints a run a mutation returned: JSON, its id alone (--quiet), or a sentence. */
function printRun(ctx: CommandContext, verb: string, run: RunFieldsFragment): ExitCode {
  if (ctx.options.json) ctx.io.out(JSON.stringify(run, null, 2));
  else if (ctx.options.quiet) ctx.io.out(run.id);
  else
    ctx.io.out(
      `${verb} run ${run.id} (${run.job.name} #${run.number}, attempt ${run.attempt}): ${ctx.io.paint(run.status, statusTone(run.status))}`,
    );
  return EXIT.OK;
}

/** `jobwire start <job>`. */
export const startCommand: Command = {
  name: 'start',
  args: ['<job>'],
  summary: 'start a run of a job (by id or name)',
  options: {
    watch: { type: 'boolean', short: 'w', description: 'then watch the run, exiting with its outcome (see watch)' },
    level: { type: 'string', value: 'LEVEL', description: 'with --watch: lowest log level shown (default INFO)' },
    quiet: { type: 'boolean', short: 'q', description: "print only the run's id" },
    'idempotency-key': idempotencyKey,
    json,
  },
  examples: ['jobwire start orders', 'jobwire start orders --watch', 'RUN=$(jobwire start orders -q)'],
  async run(ctx) {
    const job = await findJob(ctx.client, ctx.args[0]);
    const { startJob } = await ctx.client.request(StartJobDocument, { id: job.id, idempotencyKey: str(ctx.options['idempotency-key']) });
    printRun(ctx, 'started', startJob);
    if (!ctx.options.watch) return EXIT.OK;
    return watchRun(ctx, startJob.id, oneOf('level', ctx.options.level, LOG_LEVELS) ?? 'INFO');
  },
};

/** `jobwire stop <run>`. */
export const stopCommand: Command = {
  name: 'stop',
  args: ['<run>'],
  summary: 'stop a run (CANCELLING until it stops; --force: CANCELLED at once)',
  options: {
    force: { type: 'boolean', description: 'mark it CANCELLED now, ending its unfinished stages' },
    'idempotency-key': idempotencyKey,
    json,
  },
  async run(ctx) {
    const { stopRun } = await ctx.client.request(StopRunDocument, {
      id: ctx.args[0],
      force: ctx.options.force === true,
      idempotencyKey: str(ctx.options['idempotency-key']),
    });
    return printRun(ctx, 'stopping', stopRun);
  },
};

/** `jobwire retry <run>`. */
export const retryCommand: Command = {
  name: 'retry',
  args: ['<run>'],
  summary: 'start a new attempt of a FAILED run',
  options: { 'idempotency-key': idempotencyKey, json },
  async run(ctx) {
    const { retryRun } = await ctx.client.request(RetryRunDocument, {
      id: ctx.args[0],
      idempotencyKey: str(ctx.options['idempotency-key']),
    });
    return printRun(ctx, 'retrying', retryRun);
  },
};
