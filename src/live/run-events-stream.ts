import type { RunsApi, SequencedLogLine } from '../api';
import { LOG_LEVEL_RANK, LogLevel, type LogLineView, type MetricsView, type RunView, type StageView } from '../domain';
import { badInput, notFound } from '../errors';
import type { BusSubscription, EventBus } from '../events/bus';
import { Topic, type RunLogsPayload, type TopicMessage } from '../events/topics';
import type { LogChunkView } from './log-stream';
import { closing, orClose } from './streams';

/** One `runEvents` message (the `RunEvent` union; `kind` names its member). */
export type RunEventView =
  | { kind: 'RunStatusEvent'; cursor: string; run: RunView }
  | { kind: 'StageEvent'; cursor: string; stage: StageView }
  | { kind: 'MetricsEvent'; cursor: string; metrics: MetricsView }
  | { kind: 'LogEvent'; cursor: string; chunk: LogChunkView };

export interface RunEventsArgs {
  runId: string;
  /** The cursor of the last message the client has (resume); null: from the start. */
  after?: string | null;
  minLevel?: LogLevel | null;
}

export interface RunEventsOptions {
  /** Live bus messages buffered for a slow client before the oldest are shed. Default 2000. */
  highWaterMark?: number;
}

/** Lines per store read and per replayed chunk. */
const PAGE_SIZE = 500;

type Message = TopicMessage<Topic.RUN | Topic.RUN_LOGS>;

/** A message shed for a slow client: its cursors, and for log lines how many the client would have got. */
interface Shed {
  from: number;
  to: number;
  /** Lines at `minLevel` or above; null for a run message (its state is read again). */
  lines: number | null;
}

/** The events of one run message, with their cursors, in cursor order: the run, then what the batch changed. */
function runMessageEvents(run: RunView, after: number, before: number): { seq: number; event: RunEventView }[] {
  const out: { seq: number; event: RunEventView }[] = [];
  const take = (seq: number) => seq > after && seq < before;
  if (take(run.stateSeq)) out.push({ seq: run.stateSeq, event: { kind: 'RunStatusEvent', cursor: String(run.stateSeq), run } });
  if (run.metrics && take(run.metricsSeq)) {
    out.push({ seq: run.metricsSeq, event: { kind: 'MetricsEvent', cursor: String(run.metricsSeq), metrics: run.metrics } });
  }
  for (const stage of run.stages) {
    if (take(stage.eventSeq)) out.push({ seq: stage.eventSeq, event: { kind: 'StageEvent', cursor: String(stage.eventSeq), stage } });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * The cursors a bus message covers: a run message from its `stateSeq` to the last cursor of its
 * batch (assignCursors lays them out so), log lines one each from `firstEventSeq`. Null for a
 * message that does not say (a publisher without cursors, or a resync's wake-up).
 */
function rangeOf(m: Message): { first: number; last: number } | null {
  if (m.topic === Topic.RUN) {
    const run = m.payload;
    if (!(run.stateSeq > 0)) return null;
    let last = Math.max(run.stateSeq, run.metrics ? run.metricsSeq : 0);
    for (const s of run.stages) last = Math.max(last, s.eventSeq);
    return { first: run.stateSeq, last };
  }
  const p = m.payload;
  if (p.firstEventSeq === undefined || p.lines.length === 0) return null;
  return { first: p.firstEventSeq, last: p.firstEventSeq + p.lines.length - 1 };
}

/** Events made from one bus message, shared by every subscriber that takes it whole (shared execution runs GraphQL once for them). */
const sharedRunEvents = new WeakMap<RunView, RunEventView[]>();
const sharedLogEvents = new WeakMap<RunLogsPayload, Map<LogLevel, RunEventView | null>>();

/**
 * The `runEvents` stream: one run's state, stages, metrics and log lines in one sequence, each
 * message with its cursor (strictly increasing per run: the one writer hands out one per change,
 * under the run's lock, see assignCursors in src/runs/run-apply.ts).
 *
 * Subscribes to the run's two channels in one queue (the run's changes and its log lines), reads the
 * run with its last cursor, sends what the store holds after `after` in cursor order (`replay: true`
 * on log chunks), then live messages. Each live message says which cursors it covers, so the usual
 * message costs no read: one whose cursors were all sent is dropped, one that starts right after the
 * last cursor accounted for is sent as it is. One that starts further on (a publish of another
 * replica overtaken, or lost in a bus outage) makes the stream read the gap from the store first:
 * the current state of what changed in it, and its log lines. When the bus comes back after an
 * outage, everything after the last cursor is read the same way. So a client that resumes with the
 * cursor of the last message it got misses nothing and gets nothing twice; a state (the run, a
 * stage, the metrics) superseded in between comes once, as it stands now.
 *
 * Log lines below `minLevel` are not sent; a log chunk's cursor is the last of its message even when
 * its last lines were filtered out. When a client falls `highWaterMark` messages behind, the oldest
 * are shed: shed log lines are not read again but counted in a chunk with no lines
 * (`droppedLines`, its `chunk.cursor` where `Run.logs(after:)` finds them); a shed run message's state
 * is read again.
 *
 * Throws BAD_USER_INPUT (`after` not a cursor of this run) or NOT_FOUND before the stream starts.
 */
export async function runEventsStream(
  deps: { runs: RunsApi; bus: EventBus },
  args: RunEventsArgs,
  options: RunEventsOptions = {},
): Promise<AsyncGenerator<RunEventView>> {
  const { runs, bus } = deps;
  const { runId } = args;
  if (args.after != null && !/^\d{1,15}$/.test(args.after)) throw badInput('after', 'must be a RunEvent cursor (a decimal number)');
  const after = args.after ? Number(args.after) : 0;
  const minLevel = args.minLevel ?? LogLevel.DEBUG;
  const minRank = LOG_LEVEL_RANK[minLevel];
  const matches = (l: LogLineView) => LOG_LEVEL_RANK[l.level] >= minRank;

  const shed: Shed[] = [];
  let resyncWanted = false;
  const wake = { topic: Topic.RUN_LOGS, payload: { runId, lines: [] } } as Message;
  let sub: BusSubscription<Message> | null = null;
  sub = await bus.subscribeMerged<Topic.RUN | Topic.RUN_LOGS>(
    [
      { topic: Topic.RUN, id: runId },
      { topic: Topic.RUN_LOGS, id: runId },
    ],
    {
      highWaterMark: options.highWaterMark ?? 2000,
      onResync: () => {
        resyncWanted = true;
        sub?.push(wake);
      },
      onDrop: (m: Message) => {
        const r = rangeOf(m);
        if (!r) resyncWanted = true;
        else if (m.topic === Topic.RUN) shed.push({ from: r.first, to: r.last, lines: null });
        else {
          shed.push({ from: r.first, to: r.last, lines: m.payload.lines.filter(matches).length });
        }
      },
    },
  );
  const subscription = sub;
  const start = await orClose(subscription, async () => {
    const s = await runs.atCursor(runId);
    if (!s) throw notFound('Run', runId);
    if (after > s.eventSeq) throw badInput('after', `is beyond the last cursor of run ${runId} (${s.eventSeq})`);
    return s;
  });

  /** LogLine.seq of the last line sent. */
  let lastLineSeq: string | null = null;
  const logEvent = (cursor: number, lines: LogLineView[], replay: boolean, droppedLines = 0): RunEventView => {
    if (lines.length) lastLineSeq = lines[lines.length - 1].seq;
    return { kind: 'LogEvent', cursor: String(cursor), chunk: { runId, lines, cursor: lastLineSeq, replay, droppedLines } };
  };

  /** What the store holds with a cursor in (a, b): `run`'s states there, and the log lines (those shed excepted). */
  async function* fill(a: number, b: number, run: RunView | null, replay: boolean): AsyncGenerator<RunEventView> {
    const inside = shed.filter((s) => s.from > a && s.to < b);
    const shedLines = inside.filter((s) => s.lines !== null);
    type Pending = { seq: number; make: () => RunEventView | null };
    const pending: Pending[] = [
      ...(run ? runMessageEvents(run, a, b) : []).map(({ seq, event }) => ({ seq, make: () => event })),
      ...shedLines.map((s) => ({ seq: s.to, make: () => (s.lines ? logEvent(s.to, [], false, s.lines) : null) })),
    ].sort((x, y) => x.seq - y.seq);
    let next = 0;
    const flushUpTo = function* (seq: number) {
      for (; next < pending.length && pending[next].seq < seq; next++) {
        const e = pending[next].make();
        if (e) yield e;
      }
    };
    // Shed messages that cover the whole gap leave nothing to read but the states.
    if (!covers(inside, a, b)) {
      for (let from = a; ;) {
        const page = await runs.logsByCursor(runId, { after: from, before: b, minLevel, limit: PAGE_SIZE });
        let chunk: SequencedLogLine[] = [];
        for (const line of page) {
          if (shedLines.some((s) => line.eventSeq >= s.from && line.eventSeq <= s.to)) continue;
          if (next < pending.length && pending[next].seq < line.eventSeq) {
            if (chunk.length) yield logEvent(chunk[chunk.length - 1].eventSeq, chunk, replay);
            chunk = [];
            yield* flushUpTo(line.eventSeq);
          }
          chunk.push(line);
        }
        if (chunk.length) yield logEvent(chunk[chunk.length - 1].eventSeq, chunk, replay);
        if (page.length < PAGE_SIZE) break;
        from = page[page.length - 1].eventSeq;
      }
    }
    yield* flushUpTo(Infinity);
  }

  /** The events of a live message past `seen`: its own objects when it is taken whole. */
  function live(m: Message, seen: number, whole: boolean): RunEventView[] {
    if (m.topic === Topic.RUN) {
      if (!whole) return runMessageEvents(m.payload, seen, Infinity).map((x) => x.event);
      let events = sharedRunEvents.get(m.payload);
      if (!events) {
        // What this batch changed: its cursors start at the run's (earlier ones are the client's already).
        events = runMessageEvents(m.payload, m.payload.stateSeq - 1, Infinity).map((x) => x.event);
        sharedRunEvents.set(m.payload, events);
      }
      return events;
    }
    const p = m.payload;
    const last = p.firstEventSeq! + p.lines.length - 1;
    if (!whole) {
      const lines = p.lines.filter((l, i) => p.firstEventSeq! + i > seen && matches(l));
      return lines.length ? [logEvent(last, lines, false)] : [];
    }
    let byLevel = sharedLogEvents.get(p);
    if (!byLevel) sharedLogEvents.set(p, (byLevel = new Map()));
    let event = byLevel.get(minLevel);
    if (event === undefined) {
      const lines = p.lines.filter(matches);
      event = lines.length
        ? { kind: 'LogEvent', cursor: String(last), chunk: { runId, lines, cursor: null, replay: false, droppedLines: 0 } }
        : null;
      if (event?.kind === 'LogEvent') event.chunk.cursor = lines[lines.length - 1].seq;
      byLevel.set(minLevel, event);
    }
    if (event?.kind === 'LogEvent') lastLineSeq = event.chunk.cursor;
    return event ? [event] : [];
  }

  async function* generate(): AsyncGenerator<RunEventView> {
    yield* fill(after, start.eventSeq + 1, start.run, true);
    let seen = start.eventSeq;
    for await (const m of subscription) {
      const range = rangeOf(m);
      if (resyncWanted || !range) {
        // Messages may have been lost (a bus outage) or do not say what they cover: the store knows.
        resyncWanted = false;
        const now = await runs.atCursor(runId);
        if (now && now.eventSeq > seen) {
          yield* fill(seen, now.eventSeq + 1, now.run, false);
          seen = now.eventSeq;
        }
      }
      if (!range || range.last <= seen) continue;
      if (range.first > seen + 1) {
        const now = await runs.atCursor(runId);
        yield* fill(seen, range.first, now?.run ?? null, false);
        seen = range.first - 1;
      }
      yield* live(m, seen, range.first > seen);
      seen = range.last;
      for (let i = shed.length - 1; i >= 0; i--) if (shed[i].to <= seen) shed.splice(i, 1);
    }
  }

  return closing(generate(), () => subscription.close());
}

/** Whether shed messages cover every cursor in (a, b). */
function covers(inside: readonly Shed[], a: number, b: number): boolean {
  let next = a + 1;
  for (const s of [...inside].sort((x, y) => x.from - y.from)) {
    if (s.from > next) break;
    next = Math.max(next, s.to + 1);
  }
  return next >= b;
}
