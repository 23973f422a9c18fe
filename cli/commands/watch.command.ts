import type { LogLevel } from '../../client';
import type { Command, CommandContext } from '../command';
import { EXIT, exitCodeForRun, type ExitCode } from '../exit-codes';
import { followRun } from '../run-follow';
import { createWatchRenderer } from '../watch.renderer';
import { LOG_LEVELS, oneOf } from '../values';

/** Follows a run on the terminal until it ends; resolves with its exit code (0 SUCCEEDED, 1 FAILED, 3 CANCELLED). */
export async function watchRun(ctx: CommandContext, runId: string, minLevel: LogLevel | undefined): Promise<ExitCode> {
  const renderer = createWatchRenderer(ctx.io);
  try {
    const run = await followRun(
      ctx.client,
      runId,
      { run: renderer.run, stage: renderer.stage, lines: renderer.lines },
      { minLevel, signal: ctx.signal },
    );
    renderer.end(run);
    return exitCodeForRun(run.status) ?? EXIT.ERROR;
  } finally {
    renderer.dispose();
  }
}

/** `jobwire watch <run>`. */
export const watchCommand: Command = {
  name: 'watch',
  args: ['<run>'],
  summary: "follow a run live (status, stage progress, log tail); exits with the run's outcome",
  description: [
    'On a terminal the display is redrawn in place; otherwise (a pipe, a file) it prints a line per change:',
    '"run …" when the status changes, "stage …" when a stage changes status or passes a tenth, "log …" per line.',
    'It ends when the run has ended: SUCCEEDED (exit 0), FAILED (1), CANCELLED (3). A run that failed with a',
    'TRANSIENT error and has attempts left is retried by the gateway, so watch waits for the next attempt.',
  ].join('\n'),
  options: {
    level: { type: 'string', value: 'LEVEL', description: `lowest log level shown: ${LOG_LEVELS.join(', ')} (default INFO)` },
  },
  examples: ['jobwire watch 0190c1d2-…', 'jobwire start orders --quiet | xargs jobwire watch'],
  run: (ctx) => watchRun(ctx, ctx.args[0], oneOf('level', ctx.options.level, LOG_LEVELS) ?? 'INFO'),
};
