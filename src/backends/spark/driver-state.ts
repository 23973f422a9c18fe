/**
 * A Spark standalone driver in jobwire's terms: the run status and error each driver state means,
 * the failure a driver's stderr tells (TRANSIENT or PERMANENT, so retries go to failures that may
 * pass next time), the `JOBWIRE {json}` lines jobwire's own Spark application prints, the driver's
 * UI address, and its log as log lines. Pure: the poller fetches, this reads.
 *
 * Nothing that leaves this module looks like a secret: URL passwords (`postgres://app:***@db`) and
 * `password=…`-like pairs are masked in error messages, error details and log lines alike.
 */
import { z } from 'zod';
import { ErrorKind, RunStatus } from '../../domain';
import { MAX_MESSAGE_LENGTH } from '../../events/run-event.schema';
import { exceptionBlocks, failureOf, kindOf, parseThrowable, type DriverFailure, type ExceptionBlock } from './java-exception';
import {
  MAX_ERROR_MESSAGE,
  capText,
  excerpt,
  lastLines,
  logPrefix,
  scrubLogSecrets,
  structuredRecord,
  type DriverLogLevel,
} from './log-text';

export { MAX_ERROR_MESSAGE, scrubLogSecrets, type DriverFailure };

/** What a driver state means for its run. */
export interface DriverOutcome {
  /** QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED */
  status: RunStatus;
  /** The driver state as Spark said it (kept verbatim, e.g. "RELAUNCHING"). */
  engineState: string;
  error?: DriverFailure;
}

/** Spark standalone's driver states (`DriverState`), as the REST status and the master's `/json/` spell them. */
export const DRIVER_STATES = ['SUBMITTED', 'RUNNING', 'RELAUNCHING', 'FINISHED', 'FAILED', 'KILLED', 'ERROR', 'UNKNOWN'] as const;

const FAILED_DEFAULT = 'the Spark driver failed (exit status non-zero); see the driver log';
const LOST = 'the Spark master lost the driver';

/**
 * The run status a driver state means:
 * - SUBMITTED (waiting for a worker with room) → QUEUED; RUNNING and RELAUNCHING → RUNNING;
 * - FINISHED → SUCCEEDED, unless jobwire's application printed a `JOBWIRE {"type":"error"}` line
 *   (it caught the failure and exited cleanly): FAILED with that error;
 * - KILLED → CANCELLED when jobwire asked for it (`stopRequested`), otherwise FAILED TRANSIENT: an
 *   operator or a lost worker killed it, and the work itself may well succeed next time;
 * - FAILED (the driver exited non-zero) → FAILED with what the stderr tells ({@link failureFromStderr}),
 *   else PERMANENT with the stderr's last lines as details — also when a stop was requested: the
 *   driver failed before the kill reached it;
 * - ERROR (the worker could not launch the driver: a missing jar, a broken SPARK_HOME) → FAILED with
 *   the cause the REST status carries in `message` (else the stderr's), PERMANENT unless that cause
 *   is a connection failure: nothing ran, and a configuration error does not mend itself;
 * - UNKNOWN (the master restarted and no worker claimed the driver) and any state this module does
 *   not know → FAILED TRANSIENT, as lost.
 * `stderr`: the tail of the driver's stderr when known (the poller tails it); `stopRequested`:
 * jobwire asked Spark to kill this driver (stopRun); `message`: the REST status's message.
 */
export function driverOutcome(
  driverState: string,
  ctx: { stopRequested?: boolean; stderr?: string | null; message?: string | null } = {},
): DriverOutcome {
  const engineState = driverState;
  const stderr = ctx.stderr ?? '';
  const failed = (error: DriverFailure): DriverOutcome => ({ status: RunStatus.FAILED, engineState, error });
  const transient = (message: string) => failed({ message, kind: ErrorKind.TRANSIENT, details: null });
  switch (driverState.trim().toUpperCase()) {
    case 'SUBMITTED':
      return { status: RunStatus.QUEUED, engineState };
    case 'RUNNING':
    case 'RELAUNCHING':
      return { status: RunStatus.RUNNING, engineState };
    case 'FINISHED':
      if (jobwireLines(stderr).some((l) => l.type === 'error')) return failed(failureFromStderr(stderr)!);
      return { status: RunStatus.SUCCEEDED, engineState };
    case 'KILLED':
      return ctx.stopRequested ? { status: RunStatus.CANCELLED, engineState } : transient('the driver was killed outside jobwire');
    case 'FAILED':
      return failed(failureFromStderr(stderr) ?? { message: FAILED_DEFAULT, kind: ErrorKind.PERMANENT, details: lastLines(stderr) });
    case 'ERROR':
      return failed(
        launchFailure(ctx.message) ??
          failureFromStderr(stderr) ?? {
            message: 'the Spark worker could not launch the driver; see the worker log',
            kind: ErrorKind.PERMANENT,
            details: lastLines(stderr),
          },
      );
    case 'UNKNOWN':
    case '':
      return transient(LOST);
    default:
      return transient(`${LOST} (it reports driver state ${JSON.stringify(capText(driverState, 100))}, which jobwire does not know)`);
  }
}

/**
 * An ERROR status's message: `Exception from the cluster:` then the exception and its frames
 * (each a tab and a frame, without `at`), as the master's REST server formats it.
 */
function launchFailure(message: string | null | undefined): DriverFailure | null {
  const body = (message ?? '').replace(/^\s*Exception from the cluster:\s*\n/, '').trim();
  if (!body) return null;
  const header = body.split('\n', 1)[0].trim();
  const thrown = parseThrowable(header);
  return {
    message: capText(scrubLogSecrets(`the Spark worker could not launch the driver: ${header}`), MAX_ERROR_MESSAGE),
    kind: thrown ? kindOf([thrown]) : ErrorKind.PERMANENT,
    details: excerpt(body),
  };
}

/**
 * The failure a driver's stderr tells, or null. A `JOBWIRE {"type":"error"}` line wins (its kind
 * and message: jobwire's application knows best what went wrong); else the last exception the
 * driver died of (`Exception in thread "main" …`); else the last exception an ERROR log line
 * logged; else, in a tail that cut an exception's start off, the last `Caused by:` chain.
 * The message names the first exception of the chain that is not a mere wrapper
 * (InvocationTargetException: DriverWrapper calls main by reflection) and its root cause; the kind
 * is TRANSIENT when anything in the chain is a connection failure, else PERMANENT (see
 * java-exception.ts). `details`: the first lines of the trace, at most 4 KiB. A bad main class says
 * so: "main class com.example.Nope not found in the application jar".
 */
export function failureFromStderr(stderr: string): DriverFailure | null {
  const blocks = exceptionBlocks(stderr.split('\n').map((l) => l.replace(/\r$/, '')));
  const last = (which: (b: ExceptionBlock) => boolean) => blocks.filter(which).at(-1);
  const fatal = last((b) => b.uncaught) ?? last((b) => b.afterErrorLog) ?? last((b) => b.partial);
  const reported = jobwireLines(stderr)
    .filter((l) => l.type === 'error')
    .at(-1);
  if (reported) {
    return {
      message: capText(reported.message, MAX_ERROR_MESSAGE),
      kind: ErrorKind[reported.kind],
      details: fatal ? failureOf(fatal).details : null,
    };
  }
  return fatal ? failureOf(fatal) : null;
}

/** What jobwire's Spark application prints, one `JOBWIRE {json}` line each, to its stderr. */
export type JobwireLine =
  | { type: 'started'; runId: string; attempt: number }
  | { type: 'read'; rows: number; failed: number }
  | { type: 'result'; rowsRead: number; rowsWritten: number; rowsFailed: number; alreadyLoaded: boolean }
  | { type: 'error'; kind: 'PERMANENT' | 'TRANSIENT'; message: string };

const count = z.int().min(0);
const jobwireLineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), runId: z.string().min(1), attempt: z.int().min(1) }),
  z.object({ type: z.literal('read'), rows: count, failed: count }),
  z.object({ type: z.literal('result'), rowsRead: count, rowsWritten: count, rowsFailed: count, alreadyLoaded: z.boolean() }),
  z.object({ type: z.literal('error'), kind: z.enum(['PERMANENT', 'TRANSIENT']), message: z.string() }),
]) satisfies z.ZodType<JobwireLine>;

const JOBWIRE_MARK = 'JOBWIRE {';

/**
 * The `JOBWIRE {json}` lines of jobwire's Spark application, in order; malformed ones (not JSON, an
 * unknown type, a field missing or of the wrong type) skipped, unknown fields dropped. The
 * application prints them raw (System.err.println), so a line starts with `JOBWIRE `; one after a
 * log prefix is found too. An error's message comes with its secrets masked.
 */
export function jobwireLines(text: string): JobwireLine[] {
  const out: JobwireLine[] = [];
  for (const line of text.split('\n')) {
    const at = line.indexOf(JOBWIRE_MARK);
    if (at === -1) continue;
    const json = line.slice(at + JOBWIRE_MARK.length - 1, line.lastIndexOf('}') + 1);
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      continue;
    }
    const parsed = jobwireLineSchema.safeParse(value);
    if (!parsed.success) continue;
    out.push(parsed.data.type === 'error' ? { ...parsed.data, message: scrubLogSecrets(parsed.data.message) } : parsed.data);
  }
  return out;
}

/**
 * The driver's web UI base URL from Spark's own log line "Bound SparkUI to 0.0.0.0, and started at
 * http://host:4040" (null when absent). The last one counts: a relaunched driver binds anew.
 */
export function sparkUiUrl(text: string): string | null {
  const all = [...text.matchAll(/Bound SparkUI to [^\s,]+,? and started at (https?:\/\/[^\s,;'"]+)/g)];
  if (all.length) return all[all.length - 1][1].replace(/[./]+$/, '');
  // Spark 4.x says instead: "JettyUtils: Start Jetty 127.0.0.1:4040 for SparkUI".
  const jetty = [...text.matchAll(/Start Jetty ([^\s:]+|\[[0-9a-fA-F:]+\]):(\d+) for SparkUI/g)];
  if (!jetty.length) return null;
  const [, host, port] = jetty[jetty.length - 1];
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/** A log line for the run's log. */
export interface DriverLogLine {
  level: DriverLogLevel;
  message: string;
  timestamp: string | null;
}

/** Lines that belong to the line before them: frames, causes, suppressed exceptions, indented text. */
function continues(line: string): boolean {
  return (
    /^\s/.test(line) ||
    /^(Caused by: |Driver stacktrace:)/.test(line) ||
    (parseThrowable(line, { bare: true }) !== null && !logPrefix(line))
  );
}

/**
 * Driver log text → log lines for jobwire. The level is log4j's level word (TRACE and DEBUG →
 * DEBUG, INFO, WARN, ERROR and FATAL → ERROR), else INFO; an uncaught `Exception in thread …` is
 * ERROR; JOBWIRE lines are INFO whatever their prefix says. The timestamp is parsed when the line
 * starts with Spark's `yy/MM/dd HH:mm:ss` or an ISO date-time (UTC unless it has an offset); the
 * message is the rest (logger name included), secrets masked, at most MAX_MESSAGE_LENGTH.
 * Spark's JSON layout (`spark.log.structuredLogging.enabled`) is read too. Stack traces (`\tat …`,
 * `Caused by: …`, an exception right after the line that logged it, indented lines) are attached to
 * the line before them; in a chunk with no line before them they stand alone.
 *
 * A partial last line (no trailing \n) is not returned: `consumedBytes` is how many UTF-8 bytes of
 * `chunk` the lines cover, so the caller resumes the worker's byte-offset paging from there.
 * `chunk` is the log text alone (see {@link workerLogPage}).
 */
export function driverLogLines(chunk: string): { lines: DriverLogLine[]; consumedBytes: number } {
  const end = chunk.lastIndexOf('\n');
  if (end === -1) return { lines: [], consumedBytes: 0 };
  const complete = chunk.slice(0, end + 1);
  const lines: DriverLogLine[] = [];
  for (const raw of complete.slice(0, -1).split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const prev = lines.at(-1);
    if (prev && continues(line) && !line.includes(JOBWIRE_MARK)) {
      // Bounded while folding: a runaway trace must not grow one message without end.
      if (prev.message.length < MAX_MESSAGE_LENGTH) prev.message += `\n${line}`;
      continue;
    }
    lines.push(logLine(line));
  }
  for (const l of lines) l.message = capText(scrubLogSecrets(l.message), MAX_MESSAGE_LENGTH);
  return { lines, consumedBytes: Buffer.byteLength(complete, 'utf8') };
}

function logLine(line: string): DriverLogLine {
  const prefix = logPrefix(line);
  if (line.includes(JOBWIRE_MARK)) return { level: 'INFO', message: prefix?.rest ?? line, timestamp: prefix?.timestamp ?? null };
  if (prefix) return { level: prefix.level ?? 'INFO', message: prefix.rest, timestamp: prefix.timestamp };
  const record = structuredRecord(line);
  if (record) {
    const e = record.exception;
    const parts = [`${record.logger ? `${record.logger}: ` : ''}${record.msg}`];
    if (e) parts.push(e.message ? `${e.className}: ${e.message}` : e.className, ...(e.stackTrace ? [e.stackTrace] : []));
    return { level: record.level, message: parts.join('\n'), timestamp: record.timestamp };
  }
  return { level: line.startsWith('Exception in thread ') ? 'ERROR' : 'INFO', message: line, timestamp: null };
}

/**
 * A page of the worker's `/log/` endpoint (`==== Bytes <from>-<to> of <total> of <file> ====` and
 * the text), or null when `body` is not one. Resume at `from` + `driverLogLines(text).consumedBytes`
 * (not at `to`, which may fall inside a line not yet complete).
 */
export function workerLogPage(body: string): { from: number; to: number; total: number; text: string } | null {
  const m = /^==== Bytes (\d+)-(\d+) of (\d+) of [^\n]* ====\n/.exec(body);
  if (!m) return null;
  return { from: Number(m[1]), to: Number(m[2]), total: Number(m[3]), text: body.slice(m[0].length) };
}
