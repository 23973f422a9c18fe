import type { Config } from '../src/config';
import type { Logger } from '../src/logger';
import type { SchedulesService } from '../src/jobs/schedules.service';
import type { LivenessService } from '../src/runs/liveness.service';
import type { RetriesService } from '../src/runs/retries.service';
import { makeLoop, type Loop, type LoopOptions } from './loop';

export interface SchedulerDeps {
  schedules: Pick<SchedulesService, 'fireDue'>;
  retries: Pick<RetriesService, 'startDue'>;
  liveness: Pick<LivenessService, 'flagStalls'>;
  config: Pick<Config, 'schedulerIntervalMs'>;
  logger: Logger;
  instanceId: string;
  /** The loop's pause (tests drive `tick()` instead). */
  pause?: LoopOptions['pause'];
}

/** Most due schedules, due retries and new stalls handled per pass each; the rest wait for the next one. */
export const SCHEDULER_BATCH = 100;

/**
 * Every `schedulerIntervalMs`: the deadlines of jobwire — due cron schedules start runs, due
 * retries start the next attempt, and RUNNING runs whose counters stopped moving are flagged
 * stalled. Each step is a service call that is safe with several gateways (each schedule, retry and
 * stall is handled once); one failing step does not hold up the others.
 */
export function makeScheduler(deps: SchedulerDeps): Loop & { tick(): Promise<void> } {
  const logger = deps.logger.child({ component: 'scheduler' });
  const producer = `scheduler@${deps.instanceId}`;
  const steps: [string, () => Promise<unknown>][] = [
    ['schedules', () => deps.schedules.fireDue(SCHEDULER_BATCH, producer)],
    ['retries', () => deps.retries.startDue(SCHEDULER_BATCH, producer)],
    ['stalls', () => deps.liveness.flagStalls(SCHEDULER_BATCH, producer)],
  ];

  async function tick() {
    const failures: Error[] = [];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        failures.push(new Error(`${name}: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      }
    }
    // The loop logs and backs off; every step got its turn first.
    if (failures.length)
      throw failures.length === 1 ? failures[0] : new AggregateError(failures, failures.map((f) => f.message).join('; '));
  }

  const loop = makeLoop({ name: 'scheduler', intervalMs: deps.config.schedulerIntervalMs, logger, tick, pause: deps.pause });
  return Object.assign(loop, { tick });
}
