/**
 * Java exceptions in a driver's stderr, as the JVM prints them (the default uncaught-exception
 * handler's `Exception in thread "main" …`, log4j's exception after the line that logged it, the
 * `Caused by:` chain), and what kind of failure each is. Pure; driver-state.ts is its user.
 *
 * Kind: TRANSIENT when anything in the chain is a connection failure — java.net's
 * ConnectException, SocketTimeoutException, UnknownHostException, NoRouteToHostException,
 * SocketException; java.sql.SQLTransient…Exception; an I/O or SQL exception (PSQLException
 * included) whose message says connection refused / reset / timed out, "connection attempt
 * failed", "the database system is starting up" or "too many clients" — since a database or a
 * network that was down may be up at the next attempt. Everything else is PERMANENT: a missing
 * class or method, a bad argument or number, a path that does not exist (AnalysisException,
 * FileNotFoundException), SQL syntax, and unknown exceptions — a retry would fail the same way.
 * OutOfMemoryError is PERMANENT too: the same compute runs out of the same memory; its message
 * says what to change.
 */
import { ErrorKind } from '../../domain';
import { MAX_ERROR_MESSAGE, capText, excerpt, logPrefix, scrubLogSecrets, structuredRecord } from './log-text';

/** An error in jobwire's terms (a run's `error`). */
export interface DriverFailure {
  message: string;
  kind: ErrorKind;
  details: string | null;
}

/** One exception of a chain: `java.lang.RuntimeException` and `boom`. */
export interface Thrown {
  className: string;
  message: string;
}

/** An exception as printed: its `Caused by:` chain (outermost first) and the lines that print it. */
export interface ExceptionBlock {
  chain: Thrown[];
  lines: string[];
  /** The driver died of it: `Exception in thread "…" …`. */
  uncaught: boolean;
  /** It came right after an ERROR log line (log4j prints the exception of a logged error below it). */
  afterErrorLog: boolean;
  /** Its start is not in the text (a log tail cut it off): it begins at a `Caused by:`. */
  partial: boolean;
}

const CLASS = String.raw`(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*`;
const THROWN = new RegExp(String.raw`^(${CLASS})(?::\s?(.*))?$`);
const EXCEPTION_CLASS = /(?:Exception|Error|Throwable)$/;
const UNCAUGHT = /^Exception in thread "[^"]*" (.*)$/;
const CAUSED_BY = /^Caused by: (.*)$/;
/** A frame, an elision, or what belongs to a suppressed exception (indented). */
const FRAME = /^\s+(?:at |\.\.\. \d+ (?:more|common frames omitted)|Suppressed: |Caused by: )/;
/** SparkException's message ends with the driver's own frames after this line. */
const DRIVER_STACKTRACE = /^Driver stacktrace:/;

/**
 * `java.lang.RuntimeException: boom` as class and message, or null. `bare`: a line on its own
 * (not after `Caused by:` or `Exception in thread`) counts only when the class is named like an
 * exception (…Exception, …Error, …Throwable), so a logger name with a colon is not one.
 */
export function parseThrowable(line: string, opts: { bare?: boolean } = {}): Thrown | null {
  const m = THROWN.exec(line.trim());
  if (!m || (opts.bare && !EXCEPTION_CLASS.test(m[1]))) return null;
  return { className: m[1], message: (m[2] ?? '').trim() };
}

/** Lines that are something else than the rest of an exception's message. */
const startsAnother = (line: string) =>
  logPrefix(line) !== null || line.includes('JOBWIRE {') || UNCAUGHT.test(line) || line.startsWith('{"');

/**
 * The exception printed from `lines[start]`: its chain, its lines, the index after it. A message
 * may span lines (a ParseException's SQL and caret): they count when a frame or a cause follows
 * within 40 lines, nothing else first.
 */
function readBlock(lines: string[], start: number, first: Thrown): { chain: Thrown[]; lines: string[]; next: number; frames: number } {
  const chain = [first];
  const out = [lines[start]];
  let frames = 0;
  const continuation = (from: number, thrown: Thrown): number => {
    let k = from;
    while (k < lines.length && k - from < 40 && !FRAME.test(lines[k]) && !CAUSED_BY.test(lines[k]) && !startsAnother(lines[k])) k++;
    if (k === from || k >= lines.length || !(FRAME.test(lines[k]) || CAUSED_BY.test(lines[k]))) return from;
    const more = lines.slice(from, k);
    thrown.message = [thrown.message, ...more].join('\n').trim();
    out.push(...more);
    return k;
  };
  let i = continuation(start + 1, first);
  while (i < lines.length) {
    const line = lines[i];
    // A blank line belongs to the trace only when the trace goes on after it (SparkException's "Driver stacktrace:").
    const blank = line.trim() === '' && i + 1 < lines.length && (FRAME.test(lines[i + 1]) || DRIVER_STACKTRACE.test(lines[i + 1]));
    if (blank || FRAME.test(line) || DRIVER_STACKTRACE.test(line)) {
      if (/^\s+at /.test(line)) frames++;
      out.push(line);
      i++;
      continue;
    }
    const cause = CAUSED_BY.exec(line);
    const thrown = cause && parseThrowable(cause[1]);
    if (!thrown) break;
    chain.push(thrown);
    out.push(line);
    i = continuation(i + 1, thrown);
  }
  return { chain, lines: out, next: i, frames };
}

/** Every exception printed in `lines`, in order. */
export function exceptionBlocks(lines: string[]): ExceptionBlock[] {
  const blocks: ExceptionBlock[] = [];
  let afterError = false;
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    const uncaught = UNCAUGHT.exec(line);
    const cause = uncaught ? null : CAUSED_BY.exec(line);
    const first = uncaught ? parseThrowable(uncaught[1]) : cause ? parseThrowable(cause[1]) : parseThrowable(line, { bare: true });
    if (first) {
      const read = readBlock(lines, i, first);
      // A bare exception name without frames is only an exception right after the error it belongs to.
      if (uncaught || cause || read.frames > 0 || afterError) {
        blocks.push({
          chain: read.chain,
          lines: read.lines,
          uncaught: Boolean(uncaught),
          afterErrorLog: !uncaught && !cause && afterError,
          partial: Boolean(cause),
        });
        afterError = false;
        i = read.next;
        continue;
      }
    }
    const record = structuredRecord(line);
    if (record?.exception && record.level === 'ERROR') {
      const { className, message, stackTrace } = record.exception;
      const header = message ? `${className}: ${message}` : className;
      const read = readBlock([header, ...(stackTrace ?? '').split('\n')], 0, { className, message });
      blocks.push({ chain: read.chain, lines: read.lines, uncaught: false, afterErrorLog: true, partial: false });
    }
    if (line.trim()) afterError = logPrefix(line)?.level === 'ERROR';
    i++;
  }
  return blocks;
}

const TRANSIENT_CLASS =
  /^(?:java\.net\.(?:ConnectException|SocketTimeoutException|UnknownHostException|NoRouteToHostException|SocketException|PortUnreachableException)|java\.sql\.SQLTransient\w*Exception)$/;
const IO_OR_SQL = /^java\.(?:io|net|nio)\.|(?:IOException|SQLException)$/;
const CONNECTION_TROUBLE =
  /connection (?:refused|reset|timed out)|connection to \S+ refused|connection attempt failed|broken pipe|read timed out|no route to host|the database system is (?:starting up|shutting down)|too many clients/i;
/** A connection failure quoted inside another exception's message (SparkException quotes the task's). */
const QUOTED_TRANSIENT =
  /\bjava\.net\.(?:ConnectException|SocketTimeoutException|UnknownHostException|NoRouteToHostException)\b|(?:IOException|SQLException)\b[^\n]*?(?:connection (?:refused|reset)|connection to \S+ refused|connection attempt failed)/i;

/** TRANSIENT when anything in the chain is a connection failure, else PERMANENT (see the module's comment). */
export function kindOf(chain: readonly Thrown[]): ErrorKind {
  const transient = chain.some(
    (t) =>
      TRANSIENT_CLASS.test(t.className) ||
      (IO_OR_SQL.test(t.className) && CONNECTION_TROUBLE.test(t.message)) ||
      QUOTED_TRANSIENT.test(t.message),
  );
  return transient ? ErrorKind.TRANSIENT : ErrorKind.PERMANENT;
}

/** Exceptions that only carry another: DriverWrapper calls the main method by reflection. */
const WRAPPER =
  /^(?:java\.lang\.reflect\.(?:InvocationTargetException|UndeclaredThrowableException)|java\.util\.concurrent\.(?:ExecutionException|CompletionException))$/;
const describe = (t: Thrown) => (t.message ? `${t.className}: ${t.message}` : t.className);

/**
 * The failure an exception tells: the message names the first exception of the chain that is not a
 * wrapper, and the root cause when it says something more; `details` is the start of the trace.
 * DriverWrapper's own failures to find the main class or its main method are said in those terms.
 */
export function failureOf(block: ExceptionBlock): DriverFailure {
  const { chain } = block;
  const first = chain.find((t) => !WRAPPER.test(t.className)) ?? chain[0];
  const root = chain[chain.length - 1];
  // Thrown by DriverWrapper itself (not by the user's main, which would come wrapped).
  const launching = block.uncaught && chain.length === 1 && block.lines.some((l) => l.includes('deploy.worker.DriverWrapper'));
  let message = describe(first);
  if (launching && first.className === 'java.lang.ClassNotFoundException') {
    message = `main class ${first.message} not found in the application jar`;
  } else if (launching && first.className === 'java.lang.NoSuchMethodException' && first.message.endsWith('.main([Ljava.lang.String;)')) {
    message = `main class ${first.message.slice(0, -'.main([Ljava.lang.String;)'.length)} has no main(String[]) method`;
  } else if (root !== first && !message.includes(describe(root))) {
    message += ` (caused by ${describe(root)})`;
  }
  if (chain.some((t) => t.className === 'java.lang.OutOfMemoryError')) {
    message +=
      ' — the same compute runs out of the same memory: give the job more (instanceType MEMORY_OPTIMIZED, or spark.driver.memory / spark.executor.memory in sparkConf)';
  }
  return { message: capText(scrubLogSecrets(message), MAX_ERROR_MESSAGE), kind: kindOf(chain), details: excerpt(block.lines.join('\n')) };
}
