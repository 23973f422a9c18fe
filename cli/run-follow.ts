/**
 * Following one run live over the public subscriptions: `runUpdated` (status; it ends the follow),
 * optionally `stageProgress`, and `runLogs` (stored lines after the cursor, then live ones). Shared
 * by `watch` and `logs --follow`. (A single `runEvents` stream would do the same with one socket
 * operation once the gateway has it.)
 */
import {
  RunLogsDocument,
  RunLogsLiveDocument,
  RunUpdatedDocument,
  StageProgressDocument,
  type JobwireClient,
  type LogLevel,
  type LogLineFieldsFragment,
  type RunFieldsFragment,
  type StageFieldsFragment,
} from '../client';
import { CliError, Interrupted } from './exit-codes';

/** What a follower is told, in the order it happened on each stream. */
export interface FollowHandlers {
  run?(run: RunFieldsFragment): void;
  /** Only when given does the follow subscribe to `stageProgress`. */
  stage?(stage: StageFieldsFragment): void;
  lines(lines: LogLineFieldsFragment[]): void;
}

export interface FollowOptions {
  minLevel?: LogLevel;
  /** Start after this log seq (default: every stored line). */
  after?: string;
  signal: AbortSignal;
}

/**
 * A run has ended for good: SUCCEEDED, CANCELLED, or FAILED without an automatic retry coming
 * (a PERMANENT error, or the attempts exhausted). A TRANSIENT failure with attempts left is
 * retried by the gateway (the run is QUEUED again with the next attempt), so it is not the end.
 */
export function hasEnded(run: Pick<RunFieldsFragment, 'status' | 'deadLettered' | 'error'>): boolean {
  if (run.status === 'SUCCEEDED' || run.status === 'CANCELLED') return true;
  return run.status === 'FAILED' && (run.deadLettered || run.error?.kind !== 'TRANSIENT');
}

/** Stored log lines after `after`, every page, oldest first. */
export async function storedLogs(
  client: JobwireClient,
  runId: string,
  opts: { after?: string | null; minLevel?: LogLevel; before?: string },
  onLines: (lines: LogLineFieldsFragment[]) => void,
): Promise<string | null> {
  let after = opts.after ?? null;
  for (;;) {
    const { run } = await client.request(RunLogsDocument, { id: runId, first: 500, after, minLevel: opts.minLevel });
    if (!run) throw new CliError(`no run with id ${runId}`, 'NOT_FOUND');
    let lines = run.logs.edges.map((e) => e.node);
    if (opts.before !== undefined) lines = lines.filter((l) => Number(l.seq) < Number(opts.before));
    if (lines.length) {
      onLines(lines);
      after = lines[lines.length - 1].seq;
    }
    const done = !run.logs.pageInfo.hasNextPage || lines.length < run.logs.edges.length || !run.logs.pageInfo.endCursor;
    if (done) return after;
    after = run.logs.pageInfo.endCursor;
  }
}

/**
 * Follows `runId` until it has ended ({@link hasEnded}), then prints the stored lines the live
 * stream had not delivered yet, and resolves with the run as it ended. Lines a slow client was
 * shed (`droppedLines`) are read back from the store, so nothing is missed. Rejects with the
 * gateway's error (NOT_FOUND, UNAUTHENTICATED …) and with {@link Interrupted} when `signal` aborts.
 */
export async function followRun(
  client: JobwireClient,
  runId: string,
  handlers: FollowHandlers,
  opts: FollowOptions,
): Promise<RunFieldsFragment> {
  let cursor: string | null = opts.after ?? null;
  let gapFrom: string | null | undefined; // set after a chunk with dropped lines: read them back before the next chunk
  const emit = (lines: LogLineFieldsFragment[]) => {
    const fresh = lines.filter((l) => cursor === null || Number(l.seq) > Number(cursor));
    if (!fresh.length) return;
    handlers.lines(fresh);
    cursor = fresh[fresh.length - 1].seq;
  };

  let settle!: { resolve: (run: RunFieldsFragment) => void; reject: (e: unknown) => void };
  const ended = new Promise<RunFieldsFragment>((resolve, reject) => (settle = { resolve, reject }));
  const onAbort = () => settle.reject(new Interrupted());
  if (opts.signal.aborted) onAbort();
  opts.signal.addEventListener('abort', onAbort, { once: true });

  const streams: AsyncIterableIterator<unknown>[] = [];
  const pump = async <T>(it: AsyncIterableIterator<T>, each: (v: T) => void | Promise<void>) => {
    streams.push(it);
    for await (const v of it) await each(v);
  };
  const pumps = [
    pump(client.subscribe(RunUpdatedDocument, { runId }), ({ runUpdated }) => {
      handlers.run?.(runUpdated);
      if (hasEnded(runUpdated)) settle.resolve(runUpdated);
    }).then(() => settle.reject(new CliError('the gateway ended the runUpdated subscription before the run ended', 'NETWORK'))),
    handlers.stage ? pump(client.subscribe(StageProgressDocument, { runId }), ({ stageProgress }) => handlers.stage!(stageProgress)) : null,
    pump(client.subscribe(RunLogsLiveDocument, { runId, minLevel: opts.minLevel, after: opts.after }), async ({ runLogs }) => {
      if (runLogs.droppedLines > 0) {
        gapFrom = cursor;
        return;
      }
      if (gapFrom !== undefined && runLogs.lines.length) {
        const before = runLogs.lines[0].seq;
        gapFrom = undefined;
        await storedLogs(client, runId, { after: cursor, minLevel: opts.minLevel, before }, emit);
      }
      emit(runLogs.lines);
    }),
  ]
    .filter((p): p is Promise<void> => p !== null)
    .map((p) => p.catch((e) => settle.reject(e)));

  try {
    const run = await ended;
    await Promise.all(streams.map((s) => s.return?.()));
    await Promise.all(pumps);
    // What the run logged last may not have come live yet: the store has it.
    await storedLogs(client, runId, { after: cursor, minLevel: opts.minLevel }, emit);
    return run;
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    await Promise.all(streams.map((s) => s.return?.().catch(() => undefined)));
  }
}
