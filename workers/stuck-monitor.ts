import type { BackendRegistry, Reconciliation } from '../src/backends/backend';
import type { Config } from '../src/config';
import { ErrorKind, RunStatus, type RunView } from '../src/domain';
import { coerceError, withTimeout } from '../src/errors';
import type { Logger } from '../src/logger';
import { lockStuckRun, type StuckRun } from '../src/runs/run-leases';
import { findStuckRuns, stagesOf } from '../src/runs/run-queries';
import { toRunView } from '../src/runs/run-view';
import type { RunEventsService } from '../src/runs/run-events.service';
import type { StatusPayload } from '../src/runs/run-event';
import { makeLoop, type Loop } from './loop';

export interface StuckMonitorDeps {
  runEvents: RunEventsService;
  backends: BackendRegistry;
  config: Pick<Config, 'stuckCheckIntervalMs' | 'stuckThresholdMs'>;
  logger: Logger;
  instanceId: string;
}

/** Longest wait for a backend's answer about one run; without an answer the run is asked about again next pass. */
export const RECONCILE_TIMEOUT_MS = 10_000;
/** Most stuck runs handled per pass (oldest update first). */
export const STUCK_BATCH = 100;
/** Backends asked at once. */
const RECONCILE_CONCURRENCY = 5;

type Candidate = StuckRun & { view: RunView };

/**
 * The safety net for runs whose workers died. At start and every `stuckCheckIntervalMs` it finds
 * LOCAL runs whose executor lease expired and runs of any backend silent for `stuckThresholdMs`,
 * asks their backend (outside any lock, with a timeout), then re-checks each under
 * `FOR UPDATE SKIP LOCKED` and acts: `lost` → FAILED with a TRANSIENT error (so it retries), or
 * CANCELLED when it was being stopped; `finished` → that status; `alive` → nothing. With several
 * gateways each run is handled once. Also prunes old dedupe records once per pass.
 */
export function makeStuckMonitor(deps: StuckMonitorDeps): Loop & { tick(): Promise<void> } {
  const { runEvents, backends, config } = deps;
  const logger = deps.logger.child({ component: 'stuck-monitor' });
  const producer = `stuck-monitor@${deps.instanceId}`;

  async function tick() {
    // One query for the runs and one for all their stages; nothing is locked until each is handled.
    const candidates = await runEvents.transact(async (tx): Promise<Candidate[]> => {
      const stuck = await findStuckRuns(tx.em, config.stuckThresholdMs, STUCK_BATCH);
      const stages = await stagesOf(
        tx.em,
        stuck.map((s) => s.run.id),
      );
      return stuck.map(({ run, reason }) => ({ id: run.id, attempt: run.attempt, reason, view: toRunView(run, stages.get(run.id) ?? []) }));
    });
    const queue = [...candidates];
    await Promise.all(
      Array.from({ length: Math.min(RECONCILE_CONCURRENCY, queue.length) }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) await handle(c);
      }),
    );
    try {
      const pruned = await runEvents.prune();
      if (pruned) logger.debug({ pruned }, 'stuck monitor: pruned old dedupe records');
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `stuck monitor: pruning dedupe records failed: ${e.message}`);
    }
  }

  async function handle(c: Candidate) {
    const log = logger.child({ runId: c.id, jobId: c.view.jobId, attempt: c.attempt, backend: c.view.backend, reason: c.reason });
    try {
      const backend = backends.get(c.view.backend);
      if (!backend) {
        log.warn(`stuck monitor: run ${c.id} looks stuck but the ${c.view.backend} backend is not part of this gateway`);
        return;
      }
      let rec: Reconciliation;
      try {
        rec = await withTimeout(backend.reconcile(c.view), RECONCILE_TIMEOUT_MS, `the ${c.view.backend} backend`);
      } catch (err) {
        const e = coerceError(err);
        log.warn({ err: e }, `stuck monitor: cannot reconcile run ${c.id} (${e.message}); asking again next pass`);
        return;
      }
      if (rec.state === 'alive') {
        log.debug(`stuck monitor: run ${c.id} is silent but its backend says it is alive`);
        return;
      }
      const outcome = await runEvents.transact(async (tx) => {
        const locked = await lockStuckRun(tx.em, c, { thresholdMs: config.stuckThresholdMs });
        if (!locked) return null;
        const payload = statusFor(c, rec, locked.status, locked.reason);
        const r = await tx.apply({ runId: c.id, attempt: c.attempt, type: 'run.status', producer, payload });
        return { payload, outcome: r.outcome };
      });
      if (!outcome) {
        log.debug(`stuck monitor: run ${c.id} moved on or is handled by another gateway`);
        return;
      }
      log.warn(
        { status: outcome.payload.status, outcome: outcome.outcome, error: outcome.payload.error },
        `stuck monitor: run ${c.id} ${outcome.payload.status}: ${outcome.payload.message ?? ''}`,
      );
    } catch (err) {
      const e = coerceError(err);
      log.error({ err: e }, `stuck monitor: handling run ${c.id} failed: ${e.message}`);
    }
  }

  function statusFor(
    c: Candidate,
    rec: Exclude<Reconciliation, { state: 'alive' }>,
    status: RunStatus,
    reason: StuckRun['reason'],
  ): StatusPayload {
    if (rec.state === 'finished') {
      const message = rec.message ?? `the ${c.view.backend} backend reports the run ${rec.status}`;
      return rec.status === 'FAILED'
        ? { status: RunStatus.FAILED, message, error: { message, kind: ErrorKind.PERMANENT, details: null } }
        : { status: rec.status as RunStatus, message };
    }
    // A run that was being stopped and whose worker is gone is simply stopped.
    if (status === RunStatus.CANCELLING) return { status: RunStatus.CANCELLED, message: `stopped: ${rec.message}` };
    const silentSecs = Math.round((Date.now() - Date.parse(c.view.updatedAt)) / 1000);
    const message =
      reason === 'lease-expired' ? 'executor lease expired' : `no update for ${silentSecs} s; the ${c.view.backend} backend lost it`;
    return { status: RunStatus.FAILED, message, error: { message, kind: ErrorKind.TRANSIENT, details: rec.message } };
  }

  const loop = makeLoop({ name: 'stuck-monitor', intervalMs: config.stuckCheckIntervalMs, logger, tick });
  return Object.assign(loop, { tick });
}
