/**
 * Everything live about one run, for the run page: the run (status, attempts, errors), its
 * stages, its metric samples over the run and its log lines. This is the only module that knows
 * which operations feed the page: the page reads {@link RunLive} and nothing else.
 *
 * One query (the run with its job and its metric history, for the charts) and one subscription:
 * `runEvents(runId, after, minLevel)` multiplexes the run's status, stage, metric and log changes,
 * snapshot first, each message with a cursor. When the socket reconnects the stream is started
 * again with `after` = the last cursor received: nothing is missed, nothing repeated (and log
 * lines at or below the last seq are never added twice anyway).
 */
import { useEffect, useReducer } from 'react';
import {
  DashboardRunDocument,
  DashboardRunEventsDocument,
  type DashboardLiveRunFragment,
  type DashboardRunQuery,
  type LogLevel,
  type LogLineFieldsFragment,
  type MetricsFieldsFragment,
  type StageFieldsFragment,
} from '../../../client/generated/graphql';
import { JobwireError } from '../../../client/jobwire-client';
import { useSession } from './session';

export type LogLine = LogLineFieldsFragment;
/** The run as the page shows it (with its job). */
export type LiveRun = NonNullable<DashboardRunQuery['run']>;

export interface RunLive {
  /** Null until the first answer (and when no run has that id: see `missing`). */
  run: LiveRun | null;
  missing: boolean;
  stages: StageFieldsFragment[];
  /** Metric samples, oldest first. */
  samples: MetricsFieldsFragment[];
  /** Log lines at or above the level asked for, in seq order (the latest {@link MAX_LINES}). */
  logs: LogLine[];
  /** Lines the gateway shed because this page fell behind. */
  droppedLines: number;
  /** When the run should finish, from the gateway; null when unknown. */
  estimatedFinishAt: string | null;
  error: JobwireError | null;
  /** The stream's latest run change, kept for a query that answers after it. */
  change: DashboardLiveRunFragment | null;
}

/** Lines kept in memory; older ones leave the viewer. */
export const MAX_LINES = 5000;
const MAX_SAMPLES = 3600;

type Action =
  | { type: 'run'; run: LiveRun | null }
  | { type: 'run-change'; run: DashboardLiveRunFragment }
  | { type: 'history'; samples: MetricsFieldsFragment[] }
  | { type: 'stage'; stage: StageFieldsFragment }
  | { type: 'sample'; sample: MetricsFieldsFragment }
  | { type: 'logs'; lines: LogLine[]; dropped: number }
  | { type: 'reset-logs' }
  | { type: 'error'; error: JobwireError };

const INITIAL: RunLive = {
  run: null,
  missing: false,
  stages: [],
  samples: [],
  logs: [],
  droppedLines: 0,
  estimatedFinishAt: null,
  error: null,
  change: null,
};

const newer = (a: { updatedAt: string }, b: { updatedAt: string }) => Date.parse(a.updatedAt) >= Date.parse(b.updatedAt);

function mergeStages(current: StageFieldsFragment[], incoming: StageFieldsFragment[]): StageFieldsFragment[] {
  const out = [...current];
  for (const s of incoming) {
    const i = out.findIndex((x) => x.name === s.name);
    if (i < 0) out.push(s);
    else if (newer(s, out[i])) out[i] = s;
  }
  return out;
}

/** Samples in time order, one per timestamp, the latest {@link MAX_SAMPLES}. */
function mergeSamples(samples: MetricsFieldsFragment[], incoming: MetricsFieldsFragment[]): MetricsFieldsFragment[] {
  const last = samples[samples.length - 1];
  // The usual case: one live sample, newer than every other.
  if (incoming.length === 1 && (!last || Date.parse(incoming[0].timestamp) > Date.parse(last.timestamp))) {
    const next = [...samples, incoming[0]];
    return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
  }
  const byTime = new Map(samples.map((m) => [m.timestamp, m]));
  for (const m of incoming) byTime.set(m.timestamp, m);
  const next = [...byTime.values()].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
}

function reduce(state: RunLive, a: Action): RunLive {
  switch (a.type) {
    case 'run': {
      if (!a.run) return { ...state, missing: true };
      // The query may answer after the stream's first messages: what they said wins when newer.
      const run = state.change && newer(state.change, a.run) ? { ...a.run, ...state.change } : a.run;
      const samples = mergeSamples(state.samples, [...a.run.metricsHistory, ...(a.run.metrics ? [a.run.metrics] : [])]);
      return { ...state, run, stages: mergeStages(state.stages, run.stages), samples, estimatedFinishAt: run.estimatedFinishAt };
    }
    case 'run-change': {
      if (state.change && !newer(a.run, state.change)) return state;
      const run = state.run ? { ...state.run, ...a.run } : null;
      const samples = a.run.metrics ? mergeSamples(state.samples, [a.run.metrics]) : state.samples;
      return {
        ...state,
        run,
        change: a.run,
        stages: mergeStages(state.stages, a.run.stages),
        samples,
        estimatedFinishAt: a.run.estimatedFinishAt,
      };
    }
    case 'history':
      return { ...state, samples: mergeSamples(state.samples, a.samples) };
    case 'stage':
      return { ...state, stages: mergeStages(state.stages, [a.stage]) };
    case 'sample':
      return { ...state, samples: mergeSamples(state.samples, [a.sample]) };
    case 'logs': {
      const lastSeq = state.logs.length ? BigInt(state.logs[state.logs.length - 1].seq) : -1n;
      const fresh = a.lines.filter((l) => BigInt(l.seq) > lastSeq);
      if (!fresh.length && !a.dropped) return state;
      const logs = [...state.logs, ...fresh];
      return {
        ...state,
        logs: logs.length > MAX_LINES ? logs.slice(logs.length - MAX_LINES) : logs,
        droppedLines: state.droppedLines + a.dropped,
      };
    }
    case 'reset-logs':
      return { ...state, logs: [], droppedLines: 0 };
    case 'error':
      return { ...state, error: a.error };
  }
}

/** Iterates a subscription until stopped; returns the stop function. */
function follow<T>(iterator: AsyncIterableIterator<T>, onData: (d: T) => void, onError: (e: JobwireError) => void): () => void {
  let stopped = false;
  (async () => {
    try {
      for (;;) {
        const r = await iterator.next();
        if (r.done || stopped) return;
        onData(r.value);
      }
    } catch (e) {
      if (!stopped) onError(e instanceof JobwireError ? e : new JobwireError([{ message: String(e), extensions: { code: 'NETWORK' } }]));
    }
  })();
  return () => {
    stopped = true;
    void iterator.return?.();
  };
}

/** The run's live state; `minLevel` filters the log lines (changing it starts the stream over). */
export function useRunLive(runId: string, minLevel: LogLevel): RunLive {
  const session = useSession();
  const [state, dispatch] = useReducer(reduce, INITIAL);

  useEffect(() => {
    session.client.request(DashboardRunDocument, { id: runId }).then(
      ({ run }) => dispatch({ type: 'run', run }),
      (error: JobwireError) => dispatch({ type: 'error', error }),
    );
  }, [session, runId]);

  useEffect(() => {
    dispatch({ type: 'reset-logs' });
    let cursor: string | null = null;
    let stop: () => void = () => {};
    const start = () => {
      stop();
      stop = follow(
        session.client.subscribe(DashboardRunEventsDocument, { runId, minLevel, after: cursor }),
        ({ runEvents: e }) => {
          cursor = e.cursor;
          switch (e.__typename) {
            case 'RunStatusEvent':
              return dispatch({ type: 'run-change', run: e.run });
            case 'StageEvent':
              return dispatch({ type: 'stage', stage: e.stage });
            case 'MetricsEvent':
              return dispatch({ type: 'sample', sample: e.metrics });
            case 'LogEvent':
              return dispatch({ type: 'logs', lines: e.chunk.lines, dropped: e.chunk.droppedLines });
          }
        },
        (error) => dispatch({ type: 'error', error }),
      );
    };
    start();
    const off = session.onReconnected(start);
    return () => {
      off();
      stop();
    };
  }, [session, runId, minLevel]);

  return state;
}
