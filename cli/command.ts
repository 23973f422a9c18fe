/** What every command of the CLI is: its options and arguments (for parsing and help), and `run`. */
import type { JobwireClient } from '../client';
import type { ExitCode } from './exit-codes';
import type { Paint } from './format';

/** Where a command writes, and what kind of terminal that is. */
export interface CliIo {
  /** Results: tables, JSON, log lines, the watch display. */
  out(text: string): void;
  /** Raw text to stdout, no newline added (the watch display's redraws). */
  write(text: string): void;
  /** Messages about the results (hints, counts, errors). */
  err(text: string): void;
  /** stdout is a terminal: `watch` redraws in place; otherwise it prints plain lines. */
  isTTY: boolean;
  /** The terminal's width and height (80 × 24 when unknown). */
  columns: number;
  rows: number;
  /** Colours for stdout (none unless it is a terminal and NO_COLOR is unset). */
  paint: Paint;
}

/** One option of a command (a `node:util` parseArgs option with its help). */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The placeholder in the help, e.g. `LEVEL`. */
  value?: string;
  description: string;
}

/** The parsed command line a command runs with. */
export interface CommandContext {
  client: JobwireClient;
  io: CliIo;
  /** The positional arguments after the command's name. */
  args: string[];
  /** The options, by long name (strings, or true for flags). */
  options: Record<string, string | boolean | undefined>;
  /** Aborted on Ctrl-C: long-running commands stop and throw `Interrupted`. */
  signal: AbortSignal;
}

/** A command: `jobwire <name> <args> [options]`. */
export interface Command {
  name: string;
  /** The arguments for the usage line, e.g. `<run>`. */
  args: string[];
  /** One line for `jobwire --help`. */
  summary: string;
  /** More for `jobwire <name> --help` (may be several lines). */
  description?: string;
  options: Record<string, OptionSpec>;
  /** Example command lines for the help. */
  examples?: string[];
  run(ctx: CommandContext): Promise<ExitCode>;
}
