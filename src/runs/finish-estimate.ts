/**
 * When a running run should finish (`Run.estimatedFinishAt`), from what the run shows now — its
 * stages and its latest metric sample — so it costs no read and gives the same answer for the
 * same state, whenever and however often it is asked (a live run page asks on every message).
 * Pure: no I/O, no clock.
 *
 * - Remaining work: each unfinished stage's `totalItems - completedItems - failedItems`.
 * - Its pace: the stage's items per second since it started (`startedAt` → `updatedAt`), scaled by
 *   how fast the run goes *now* against its average: the latest sample's `throughputRps` over the
 *   records it processed per second since the run started (clamped to ¼…4×, so one odd sample
 *   cannot throw the estimate far). Without a usable sample the stage's own pace is used as it is.
 * - Stages that work through the same items in a pipeline (`slowest`: the ingestion engine) finish
 *   with the last of them; stages that run one after the other (`mean`: Spark's) add up.
 *
 * Unknown (null) unless the run is RUNNING; while some unfinished stage has no total yet, or has
 * not moved since it started; and before any stage was reported. Stages not reported yet are not
 * counted (a Spark job announces its stages as it reaches them).
 */
import { RunStatus, StageStatus, type MetricsView, type StageView } from '../domain';

/** What the estimate reads of a run. */
export interface FinishEstimateInput {
  status: RunStatus;
  startedAt: string | null;
  stages: readonly Pick<StageView, 'status' | 'totalItems' | 'completedItems' | 'failedItems' | 'startedAt' | 'updatedAt'>[];
  metrics: Pick<MetricsView, 'timestamp' | 'recordsProcessed' | 'throughputRps'> | null;
}

/** How a backend's stage progress adds up (BackendPolicy.progress). */
export type StageRule = 'mean' | 'slowest';

/** The most the latest sample's pace may scale a stage's average pace by, either way. */
export const MAX_PACE_FACTOR = 4;

const unfinished = (s: StageStatus) => s === StageStatus.PENDING || s === StageStatus.RUNNING;

/**
 * The recent-to-average throughput ratio from the latest sample, 1 when it says nothing usable
 * (no sample, no records yet, no time elapsed).
 */
export function paceFactor(run: Pick<FinishEstimateInput, 'startedAt' | 'metrics'>): number {
  const m = run.metrics;
  if (!m || !run.startedAt) return 1;
  const elapsedS = (Date.parse(m.timestamp) - Date.parse(run.startedAt)) / 1000;
  if (!(elapsedS > 0) || !(m.recordsProcessed > 0) || !(m.throughputRps >= 0)) return 1;
  const average = m.recordsProcessed / elapsedS;
  return Math.min(MAX_PACE_FACTOR, Math.max(1 / MAX_PACE_FACTOR, m.throughputRps / average));
}

/** The estimated finish time (ms since the epoch), or null when unknown; see the module comment. */
export function estimateFinishAt(run: FinishEstimateInput, rule: StageRule): number | null {
  if (run.status !== RunStatus.RUNNING) return null;
  const open = run.stages.filter((s) => unfinished(s.status));
  if (open.length === 0) return null;
  const factor = paceFactor(run);
  let latest = 0;
  for (const s of run.stages) latest = Math.max(latest, Date.parse(s.updatedAt));
  let total = 0;
  let end = 0;
  for (const s of open) {
    if (s.totalItems <= 0 || !s.startedAt) return null;
    const done = s.completedItems + s.failedItems;
    const spentS = (Date.parse(s.updatedAt) - Date.parse(s.startedAt)) / 1000;
    if (done <= 0 || !(spentS > 0)) return null;
    const remaining = Math.max(0, s.totalItems - done);
    const leftMs = (remaining / ((done / spentS) * factor)) * 1000;
    total += leftMs;
    end = Math.max(end, Date.parse(s.updatedAt) + leftMs);
  }
  return Math.round(rule === 'slowest' ? end : latest + total);
}
