import type { Config } from '../src/config';
import type { PollReport, SparkPollService } from '../src/backends/spark/spark-poll.service';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../src/logger';
import { secondsSince, type SparkPollMetrics } from '../src/metrics/metrics';
import { makeLoop, type Loop, type LoopOptions } from './loop';

export interface SparkPollerDeps {
  sparkPoll: Pick<SparkPollService, 'pollOnce' | 'release'>;
  config: Pick<Config, 'sparkPollIntervalMs'>;
  logger: Logger;
  /** Cycle durations and errors (`jobwire_spark_poll_*`); none: not observed. */
  metrics?: { sparkPoll: SparkPollMetrics };
  pause?: LoopOptions['pause'];
}

/**
 * The SPARK poller: every `SPARK_POLL_INTERVAL_MS`, one cycle of the poll service (one replica at
 * a time holds its lease; the others' cycles ask nothing). It logs what changed and when the master
 * goes away or comes back; on stop it gives the lease up, so another replica polls at once.
 */
export function makeSparkPoller(deps: SparkPollerDeps): Loop & { tick(): Promise<PollReport> } {
  const logger = deps.logger.child({ component: 'spark-poller' });
  let masterDown = false;

  const metrics = deps.metrics?.sparkPoll;

  async function tick(): Promise<PollReport> {
    const started = performance.now();
    let report: PollReport;
    try {
      report = await deps.sparkPoll.pollOnce();
    } catch (err) {
      metrics?.error('cycle_failed');
      throw err;
    }
    metrics?.cycle(secondsSince(started), report.leader);
    if (report.masterError) metrics?.error('master_unreachable');
    if (report.masterError && !masterDown)
      logger.warn({ err: { message: report.masterError } }, `spark poller: the master cannot be reached: ${report.masterError}`);
    if (!report.masterError && masterDown) logger.info('spark poller: the master answers again');
    masterDown = report.masterError !== null;
    if (report.applied) logger.debug(report, `spark poller: ${report.applied} changes from ${report.runs} active runs`);
    return report;
  }

  const loop = makeLoop({
    name: 'spark-poller',
    intervalMs: deps.config.sparkPollIntervalMs,
    logger,
    tick: async () => void (await tick()),
    pause: deps.pause,
  });
  const stopLoop = loop.stop.bind(loop);
  return Object.assign(loop, {
    tick,
    async stop() {
      await stopLoop();
      await deps.sparkPoll.release();
    },
  });
}
