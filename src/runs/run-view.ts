import type { RunEntity } from '../db/entities/run.entity';
import type { StageEntity } from '../db/entities/stage.entity';
import type { LogLineEntity } from '../db/entities/log-line.entity';
import type { LogLineView, RunView, StageView } from '../domain';
import { stageProgress } from './run-state';

/** A timestamp as clients see it (ISO-8601, UTC), or null. */
export const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

export function toStageView(s: StageEntity): StageView {
  return {
    runId: s.runId,
    name: s.name,
    status: s.status,
    totalItems: s.totalItems,
    completedItems: s.completedItems,
    failedItems: s.failedItems,
    progress: stageProgress(s.status, s),
    message: s.message,
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    updatedAt: iso(s.updatedAt)!,
  };
}

/** The client-facing shape of a run; `stages` must be the run's stages (any order). */
export function toRunView(run: RunEntity, stages: StageEntity[]): RunView {
  return {
    id: run.id,
    jobId: run.jobId,
    number: run.number,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    trigger: run.trigger,
    status: run.status,
    backend: run.backend,
    externalId: run.externalId,
    engineState: run.engineState,
    lastProgressAt: iso(run.lastProgressAt),
    progress: run.progress,
    stages: [...stages].sort((a, b) => a.position - b.position || a.name.localeCompare(b.name)).map(toStageView),
    metrics: run.metrics,
    error: run.error,
    attempts: run.attempts,
    deadLettered: run.deadLettered,
    nextRetryAt: iso(run.nextRetryAt),
    queuedAt: iso(run.queuedAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    createdAt: iso(run.createdAt)!,
    updatedAt: iso(run.updatedAt)!,
    version: run.version,
  };
}

export function toLogLineView(l: LogLineEntity): LogLineView {
  return {
    seq: String(l.seq),
    runId: l.runId,
    attempt: l.attempt,
    timestamp: iso(l.timestamp)!,
    level: l.level,
    message: l.message,
    source: l.source,
  };
}
