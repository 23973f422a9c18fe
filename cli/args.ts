/** Parsing the command line (node:util parseArgs) and the help texts, both from the commands' specs. */
import { parseArgs } from 'node:util';
import type { Command, OptionSpec } from './command';
import { DEFAULT_URL } from './cli-env';
import { EXIT, UsageError } from './exit-codes';

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'URL', description: `the gateway (default: JOBWIRE_URL, else ${DEFAULT_URL})` },
  token: { type: 'string', value: 'TOKEN', description: 'a JWT or API token (default: JOBWIRE_TOKEN)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/** A parsed command line: the command (undefined for none) with its arguments and options, or a request for help. */
export interface ParsedCommandLine {
  command: Command | undefined;
  args: string[];
  options: Record<string, string | boolean | undefined>;
  help: boolean;
}

/**
 * Parses `argv` (without node and the script) against `commands`: the first positional names the
 * command; options may come before or after it. Throws {@link UsageError} for an unknown command,
 * an option the command does not take, a missing option value, or a wrong number of arguments.
 */
export function parseCommandLine(argv: string[], commands: Command[]): ParsedCommandLine {
  const all: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const c of commands) Object.assign(all, c.options);
  const parseOptions = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed: ReturnType<typeof parseArgs<{ options: typeof parseOptions; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: parseOptions, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const [name, ...args] = parsed.positionals;
  const help = parsed.values.help === true;
  if (name === undefined) return { command: undefined, args: [], options: parsed.values, help };
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')})`);
  for (const t of parsed.tokens) {
    if (t.kind === 'option' && !(t.name in GLOBAL_OPTIONS) && !(t.name in command.options)) {
      throw new UsageError(`${command.name} does not take ${t.rawName}`);
    }
  }
  if (!help) {
    const required = command.args.filter((a) => a.startsWith('<')).length;
    if (args.length < required) throw new UsageError(`${command.name} needs ${command.args.join(' ')}`);
    if (args.length > command.args.length)
      throw new UsageError(`${command.name} takes ${command.args.join(' ') || 'no arguments'}, not "${args.join(' ')}"`);
  }
  return { command, args, options: parsed.values, help };
}

const optionLines = (options: Record<string, OptionSpec>) => {
  const left = Object.entries(options).map(([name, o]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(options).map((o, i) => `  ${left[i].padEnd(width)}  ${o.description}`);
};

/** `jobwire --help`: the commands, the global options, the environment and the exit codes. */
export function mainHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => `${c.name} ${c.args.join(' ')}`.length));
  return [
    'jobwire: the command line of a jobwire gateway (its public GraphQL API)',
    '',
    'Usage: jobwire <command> [arguments] [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${`${c.name} ${c.args.join(' ')}`.padEnd(width)}  ${c.summary}`),
    '',
    'Options of every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Environment: JOBWIRE_URL, JOBWIRE_TOKEN (flags win), NO_COLOR.',
    '',
    exitCodeHelp(),
    '',
    'Run "jobwire <command> --help" for its options.',
  ].join('\n');
}

/** `jobwire <command> --help`. */
export function commandHelp(command: Command): string {
  return [
    `Usage: jobwire ${command.name}${command.args.length ? ` ${command.args.join(' ')}` : ''} [options]`,
    '',
    command.summary,
    ...(command.description ? ['', command.description] : []),
    '',
    'Options:',
    ...optionLines({ ...command.options, ...GLOBAL_OPTIONS }),
    ...(command.examples?.length ? ['', 'Examples:', ...command.examples.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

/** The exit-code table as the help prints it. */
export function exitCodeHelp(): string {
  const rows: [number, string][] = [
    [EXIT.OK, 'done; watch: the run SUCCEEDED'],
    [EXIT.RUN_FAILED, 'watch: the run FAILED'],
    [EXIT.USAGE, 'bad command line'],
    [EXIT.RUN_CANCELLED, 'watch: the run was CANCELLED'],
    [EXIT.NOT_FOUND, 'NOT_FOUND'],
    [EXIT.UNAUTHENTICATED, 'UNAUTHENTICATED'],
    [EXIT.FORBIDDEN, 'FORBIDDEN'],
    [EXIT.REFUSED, 'refused: BAD_USER_INPUT, CONFLICT, validation'],
    [EXIT.UNREACHABLE, 'gateway unreachable (NETWORK) or UNAVAILABLE'],
    [EXIT.ERROR, 'any other error'],
    [EXIT.INTERRUPTED, 'interrupted (Ctrl-C)'],
  ];
  return ['Exit codes:', ...rows.map(([code, what]) => `  ${String(code).padStart(3)}  ${what}`)].join('\n');
}
