/**
 * Everything live about one run, for the run page: the run (status, attempts, errors), its
 * stages, its metric samples over the run and its log lines. This is the only module that knows
 * which subscriptions feed the page: the page reads {@link RunLive} and nothing else.
 *
 * Today it uses the four per-kind subscriptions (runUpdated, stageProgress, runMetrics, runLogs);
 * the single multiplexed `runEvents(runId, after, minLevel)` stream of the design replaces them
 * here once the gateway has it, with no change to the page.
 *
 * Logs resume from their cursor: when the socket reconnects, the log subscription is started
 * again with `after` = the last line received, and lines at or below it are never added twice.
 */
import { useEffect, useReducer } from 'react';
import {
  RunDocument,
  RunLogsLiveDocument,
  RunMetricsDocument,
  RunUpdatedDocument,
  StageProgressDocument,
  type LogLevel,
  type LogLineFieldsFragment,
  type MetricsFieldsFragment,
  type RunFieldsFragment,
  type StageFieldsFragment,
} from '../../../client/generated/graphql';
import { JobwireError, type JobwireClient } from '../../../client/jobwire-client';
import { useSession } from './session';

export type LogLine = LogLineFieldsFragment;

export interface RunLive {
  /** Null until the first answer (and when no run has that id: see `missing`). */
  run: RunFieldsFragment | null;
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
}

/** Lines kept in memory; older ones leave the viewer. */
export const MAX_LINES = 5000;
const MAX_SAMPLES = 3600;

type Action =
  | { type: 'run'; run: RunFieldsFragment | null }
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

function addSample(samples: MetricsFieldsFragment[], m: MetricsFieldsFragment): MetricsFieldsFragment[] {
  const last = samples[samples.length - 1];
  if (last && Date.parse(m.timestamp) <= Date.parse(last.timestamp)) return samples;
  const next = [...samples, m];
  return next.length > MAX_SAMPLES ? next.slice(next.length - MAX_SAMPLES) : next;
}

function reduce(state: RunLive, a: Action): RunLive {
  switch (a.type) {
    case 'run': {
      if (!a.run) return { ...state, missing: true };
      if (state.run && !newer(a.run, state.run)) return state;
      const samples = a.run.metrics ? addSample(state.samples, a.run.metrics) : state.samples;
      return { ...state, run: a.run, stages: mergeStages(state.stages, a.run.stages), samples };
    }
    case 'stage':
      return { ...state, stages: mergeStages(state.stages, [a.stage]) };
    case 'sample':
      return { ...state, samples: addSample(state.samples, a.sample) };
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

function followRun(client: JobwireClient, runId: string, dispatch: (a: Action) => void): () => void {
  const onError = (error: JobwireError) => dispatch({ type: 'error', error });
  client.request(RunDocument, { id: runId }).then(({ run }) => dispatch({ type: 'run', run }), onError);
  const stops = [
    follow(client.subscribe(RunUpdatedDocument, { runId }), (d) => dispatch({ type: 'run', run: d.runUpdated }), onError),
    follow(client.subscribe(StageProgressDocument, { runId }), (d) => dispatch({ type: 'stage', stage: d.stageProgress }), onError),
    follow(client.subscribe(RunMetricsDocument, { runId }), (d) => dispatch({ type: 'sample', sample: d.runMetrics }), onError),
  ];
  return () => stops.forEach((s) => s());
}

/** The run's live state; `minLevel` filters the log lines (changing it starts the log over). */
export function useRunLive(runId: string, minLevel: LogLevel): RunLive {
  const session = useSession();
  const [state, dispatch] = useReducer(reduce, INITIAL);

  useEffect(() => followRun(session.client, runId, dispatch), [session, runId]);

  useEffect(() => {
    dispatch({ type: 'reset-logs' });
    let cursor: string | null = null;
    let stop: () => void = () => {};
    const start = () => {
      stop();
      stop = follow(
        session.client.subscribe(RunLogsLiveDocument, { runId, minLevel, after: cursor }),
        ({ runLogs: chunk }) => {
          if (chunk.cursor && (cursor === null || BigInt(chunk.cursor) > BigInt(cursor))) cursor = chunk.cursor;
          dispatch({ type: 'logs', lines: chunk.lines, dropped: chunk.droppedLines });
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
