/** The command line as a function: parse, run the command against the gateway, report errors; returns the exit code. */
import WebSocket from 'ws';
import { createJobwireClient, JobwireError } from '../client';
import { commandHelp, mainHelp, parseCommandLine } from './args';
import { cliSettings, type CliSettings } from './cli-env';
import type { CliIo, Command } from './command';
import { jobsCommand } from './commands/jobs.command';
import { logsCommand } from './commands/logs.command';
import { retryCommand, startCommand, stopCommand } from './commands/run-actions.command';
import { runsCommand } from './commands/runs.command';
import { watchCommand } from './commands/watch.command';
import { CliError, EXIT, Interrupted, UsageError, exitCodeForError, type ExitCode } from './exit-codes';
import { ansiPaint, noPaint } from './format';

/** Every command, in the order the help lists them. */
export const COMMANDS: Command[] = [jobsCommand, runsCommand, startCommand, stopCommand, retryCommand, logsCommand, watchCommand];

/** What the CLI runs with: where it writes, its environment, and the signal Ctrl-C aborts. */
export interface CliRuntime {
  io: Omit<CliIo, 'paint'>;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

/** The error line(s) for stderr: the gateway's code, the field it names, its message, and a hint for the usual causes. */
export function errorText(e: unknown, settings: Pick<CliSettings, 'url'>): string {
  if (e instanceof UsageError) return `jobwire: ${e.message}\nRun "jobwire --help" for the commands and options.`;
  if (e instanceof CliError) return `jobwire: ${e.code}: ${e.message}`;
  if (e instanceof JobwireError) {
    const hint =
      e.code === 'NETWORK'
        ? ` (is a gateway listening at ${settings.url}? --url or JOBWIRE_URL)`
        : e.code === 'UNAUTHENTICATED'
          ? ' (--token or JOBWIRE_TOKEN)'
          : '';
    return `jobwire: ${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}${hint}`;
  }
  return `jobwire: ${e instanceof Error ? e.message : String(e)}`;
}

/** Runs `jobwire <argv…>` and resolves with its exit code (it never throws). */
export async function runCli(argv: string[], rt: CliRuntime): Promise<ExitCode> {
  const settings = cliSettings({}, rt.env);
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv, COMMANDS);
  } catch (e) {
    rt.io.err(errorText(e, settings));
    return exitCodeForError(e);
  }
  const { command, args, options, help } = parsed;
  if (!command) {
    (help ? rt.io.out : rt.io.err)(mainHelp(COMMANDS));
    return help ? EXIT.OK : EXIT.USAGE;
  }
  if (help) {
    rt.io.out(commandHelp(command));
    return EXIT.OK;
  }
  const { url, token, color } = cliSettings({ url: options.url as string | undefined, token: options.token as string | undefined }, rt.env);
  const client = createJobwireClient({ url, token, webSocketImpl: WebSocket });
  const base = rt.io;
  const io: CliIo = {
    out: base.out,
    write: base.write,
    err: base.err,
    isTTY: base.isTTY,
    get columns() {
      return base.columns;
    },
    get rows() {
      return base.rows;
    },
    paint: color && base.isTTY && !options.json ? ansiPaint : noPaint,
  };
  try {
    return await command.run({ client, io, args, options, signal: rt.signal });
  } catch (e) {
    if (!(e instanceof Interrupted)) {
      if (options.json) {
        const j =
          e instanceof JobwireError
            ? { code: e.code, field: e.field ?? null, message: e.message }
            : e instanceof CliError
              ? { code: e.code, message: e.message }
              : { message: String(e) };
        io.err(JSON.stringify({ error: j }));
      } else io.err(errorText(e, { url }));
    }
    return exitCodeForError(e);
  } finally {
    await client.close().catch(() => undefined);
  }
}
