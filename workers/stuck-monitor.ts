import type { Config } from '../src/config';
import { coerceError } from '../src/errors';
import type { Logger } from '../src/logger';
import type { LivenessService } from '../src/runs/liveness.service';
import { makeLoop, type Loop, type LoopOptions } from './loop';

export interface StuckMonitorDeps {
  liveness: Pick<LivenessService, 'reconcileStuck'>;
  /** Prunes old dedupe records, keys, log lines and samples (RunEventsService.prune). */
  retention: { prune(): Promise<number> };
  config: Pick<Config, 'stuckCheckIntervalMs'>;
  logger: Logger;
  instanceId: string;
  pause?: LoopOptions['pause'];
}

/** Most stuck runs handled per pass (longest overdue first). */
export const STUCK_BATCH = 100;

/**
 * The safety net for runs whose workers died: at start and every `stuckCheckIntervalMs`, the runs
 * past their liveness deadline are reconciled with their backend (lost ones fail TRANSIENT, so
 * they retry), then old records are pruned.
 */
export function makeStuckMonitor(deps: StuckMonitorDeps): Loop & { tick(): Promise<void> } {
  const logger = deps.logger.child({ component: 'stuck-monitor' });
  const producer = `stuck-monitor@${deps.instanceId}`;

  async function tick() {
    const pass = await deps.liveness.reconcileStuck(STUCK_BATCH, producer);
    if (pass.found)
      logger.info(pass, `stuck monitor: ${pass.found} stuck runs: ${pass.lost} lost, ${pass.finished} finished, ${pass.alive} alive`);
    try {
      const pruned = await deps.retention.prune();
      if (pruned) logger.debug({ pruned }, 'stuck monitor: pruned old records');
    } catch (err) {
      const e = coerceError(err);
      logger.warn({ err: e }, `stuck monitor: pruning failed: ${e.message}`);
    }
  }

  const loop = makeLoop({ name: 'stuck-monitor', intervalMs: deps.config.stuckCheckIntervalMs, logger, tick, pause: deps.pause });
  return Object.assign(loop, { tick });
}
