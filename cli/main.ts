/**
 * The `jobwire` command (bin: cli/jobwire.js, which loads this file from dist/). Wires the process
 * to {@link runCli}: stdout/stderr, the environment, Ctrl-C (a first one stops the command, which
 * exits 130; a second one exits at once) and the exit code.
 */
import { runCli } from './cli';
import { EXIT } from './exit-codes';

const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
  controller.abort();
});
// `jobwire … | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(EXIT.OK);
  throw e;
});

void runCli(process.argv.slice(2), {
  io: {
    out: (text) => process.stdout.write(`${text}\n`),
    write: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY: process.stdout.isTTY === true,
    get columns() {
      return process.stdout.columns || 80;
    },
    get rows() {
      return process.stdout.rows || 24;
    },
  },
  env: process.env,
  signal: controller.signal,
}).then((code) => {
  process.exitCode = code;
});
