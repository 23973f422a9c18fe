import type { RunsApi } from '../api';
import { LOG_LEVEL_RANK, LogLevel, type LogLineView } from '../domain';
import { badInput, notFound } from '../errors';
import type { EventBus } from '../events/bus';
import { Topic, type RunLogsPayload } from '../events/topics';
import { closing, orClose } from './streams';

/** One `runLogs` message (the `LogChunk` GraphQL type). */
export interface LogChunkView {
  runId: string;
  lines: LogLineView[];
  cursor: string | null;
  replay: boolean;
  droppedLines: number;
}

export interface LogStreamArgs {
  runId: string;
  minLevel?: LogLevel | null;
  after?: string | null;
  contains?: string | null;
}

export interface LogStreamOptions {
  /** Live bus messages buffered for a slow client before the oldest are shed. Default 2000. */
  highWaterMark?: number;
}

/** Lines per replay page and per outgoing chunk. */
const PAGE_SIZE = 500;

const seqOf = (l: LogLineView) => Number(l.seq);

/**
 * Live chunks made from one bus message, per filter, shared by every subscriber that takes the
 * message whole: the same chunk object lets shared execution (src/graphql/shared-execution.ts)
 * run GraphQL once for all of them instead of once each.
 */
const sharedChunks = new WeakMap<RunLogsPayload, Map<string, LogChunkView>>();

/**
 * The `runLogs` stream: subscribes to the run's log channel, replays stored lines after `after`
 * page by page (`replay: true`), then streams live lines (`replay: false`).
 *
 * Never a duplicate: a line is sent only when its seq is above the last one sent. Never a gap:
 * `seenHigh` tracks the highest seq accounted for (sent, filtered out or shed); when a live message
 * starts above `seenHigh + 1` (publishes of two commits can arrive out of order, and the replay
 * does not see lines filtered out after its last match) the missing range is read from the store.
 * Lines shed because the client fell `highWaterMark` messages behind are not re-read: a chunk with
 * no lines reports them in `droppedLines`, its `cursor` being where the client should fetch from.
 * When the bus comes back after an outage, the stored lines after `seenHigh` are sent (lines
 * published meanwhile were lost on the way), then live ones above them.
 *
 * Throws BAD_USER_INPUT (`after` not a seq) or NOT_FOUND before the stream starts.
 */
export async function runLogsStream(
  deps: { runs: RunsApi; bus: EventBus },
  args: LogStreamArgs,
  options: LogStreamOptions = {},
): Promise<AsyncGenerator<LogChunkView>> {
  const { runs, bus } = deps;
  const { runId } = args;
  const pageSize = PAGE_SIZE;
  if (args.after != null && !/^\d{1,15}$/.test(args.after)) throw badInput('after', 'must be a LogLine.seq (a decimal number)');
  const minRank = LOG_LEVEL_RANK[args.minLevel ?? LogLevel.DEBUG];
  const contains = args.contains || null;
  // Case-insensitive, like the store's filter (ILIKE), so replayed and live lines match alike.
  const needle = contains?.toLowerCase() ?? null;
  const matches = (l: LogLineView) => LOG_LEVEL_RANK[l.level] >= minRank && (needle === null || l.message.toLowerCase().includes(needle));
  const query = { minLevel: args.minLevel ?? LogLevel.DEBUG, contains };

  // Seqs of matching lines shed for overflow, and the seq ranges of every shed message.
  const shedSeqs = new Set<number>();
  const shedRanges: [number, number][] = [];
  // After a bus outage every stored line after the last one accounted for is read again (below);
  // an empty message wakes the stream up to do it.
  let resyncWanted = false;
  let subRef: { push(p: RunLogsPayload): void } | null = null;
  const sub = await bus.subscribe(Topic.RUN_LOGS, runId, {
    onResync: () => {
      resyncWanted = true;
      subRef?.push({ runId, lines: [] });
    },
    highWaterMark: options.highWaterMark ?? 2000,
    onDrop: (p: RunLogsPayload) => {
      if (!p.lines.length) return;
      shedRanges.push([seqOf(p.lines[0]), seqOf(p.lines[p.lines.length - 1])]);
      for (const l of p.lines) if (matches(l)) shedSeqs.add(seqOf(l));
    },
  });
  subRef = sub;
  await orClose(sub, async () => {
    if (!(await runs.get(runId))) throw notFound('Run', runId);
  });

  let lastSent = args.after ? Number(args.after) : 0;
  let seenHigh = lastSent;
  const cursor = () => (lastSent > 0 ? String(lastSent) : null);

  /** Matching stored lines with `from < seq < to` (to = Infinity: all of them), page by page. */
  async function* stored(from: number, to: number): AsyncGenerator<LogLineView[]> {
    let after = from;
    for (;;) {
      const page = await runs.logs(runId, { ...query, after: after > 0 ? String(after) : null, first: pageSize });
      const lines = page.edges.map((e) => e.node).filter((l) => seqOf(l) > after && seqOf(l) < to && matches(l));
      if (lines.length) yield lines;
      const end = page.edges.length ? seqOf(page.edges[page.edges.length - 1].node) : after;
      if (!page.pageInfo.hasNextPage || end >= to - 1 || end <= after) return;
      after = end;
    }
  }

  function* chunks(lines: LogLineView[], replay: boolean): Generator<LogChunkView> {
    for (let i = 0; i < lines.length; i += pageSize) {
      const part = lines.slice(i, i + pageSize);
      lastSent = seqOf(part[part.length - 1]);
      yield { runId, lines: part, cursor: String(lastSent), replay, droppedLines: 0 };
    }
  }

  const coveredByShed = (from: number, to: number) => {
    // Is every seq in (from, to) inside a shed range? Then the store has nothing for us there.
    let next = from + 1;
    for (const [lo, hi] of [...shedRanges].sort((a, b) => a[0] - b[0])) {
      if (lo > next) break;
      next = Math.max(next, hi + 1);
    }
    return next >= to;
  };

  async function* generate(): AsyncGenerator<LogChunkView> {
    for await (const lines of stored(lastSent, Infinity)) yield* chunks(lines, true);
    seenHigh = Math.max(seenHigh, lastSent);

    for await (const payload of sub) {
      if (resyncWanted) {
        // Lines published while the bus was away never arrived: the store has them.
        resyncWanted = false;
        for await (const lines of stored(seenHigh, Infinity)) yield* chunks(lines, false);
        seenHigh = Math.max(seenHigh, lastSent);
      }
      const lines = payload.lines.filter((l) => seqOf(l) > seenHigh);
      if (!lines.length) continue;
      const lo = seqOf(lines[0]);
      const hi = seqOf(lines[lines.length - 1]);
      let fill: LogLineView[] = [];
      let shed = 0;
      if (lo > seenHigh + 1) {
        if (!coveredByShed(seenHigh, lo)) {
          for await (const page of stored(seenHigh, lo)) fill.push(...page);
        }
        for (const s of shedSeqs) {
          if (s > seenHigh && s < lo) shed++;
        }
        fill = fill.filter((l) => !shedSeqs.has(seqOf(l)));
      }
      seenHigh = hi;
      for (const s of shedSeqs) if (s <= seenHigh) shedSeqs.delete(s);
      for (let i = shedRanges.length - 1; i >= 0; i--) if (shedRanges[i][1] <= seenHigh) shedRanges.splice(i, 1);
      if (shed > 0) yield { runId, lines: [], cursor: cursor(), replay: false, droppedLines: shed };
      if (fill.length === 0 && shed === 0 && lines.length === payload.lines.length) {
        // The common live case: this message as it came, after everything sent so far.
        const chunk = sharedChunk(payload);
        if (chunk) {
          lastSent = Number(chunk.cursor);
          yield chunk;
          continue;
        }
        if (chunk === null) continue; // nothing in it matches
      }
      yield* chunks(
        [...fill, ...lines.filter(matches)].filter((l) => seqOf(l) > lastSent),
        false,
      );
    }
  }

  /** The shared live chunk of a whole message (null: no line matches; undefined: too big for one chunk). */
  function sharedChunk(payload: RunLogsPayload): LogChunkView | null | undefined {
    const key = `${minRank}\u0000${needle ?? ''}`;
    let byFilter = sharedChunks.get(payload);
    if (!byFilter) sharedChunks.set(payload, (byFilter = new Map()));
    if (byFilter.has(key)) return byFilter.get(key)!;
    const lines = payload.lines.filter(matches);
    if (lines.length > pageSize) return undefined;
    const chunk = lines.length ? { runId, lines, cursor: lines[lines.length - 1].seq, replay: false, droppedLines: 0 } : null;
    byFilter.set(key, chunk as LogChunkView);
    return chunk;
  }

  return closing(generate(), () => sub.close());
}
