import fs from 'node:fs';
import { ExecutionBackend, RunStatus, type RunView } from '../../domain';
import { DEFAULT_POLICIES } from '../../runs/run-apply';
import { SPARK_SOURCES, type Backend, type PreflightCheckView, type Reconciliation } from '../backend';
import { capacityNeeded, sparkConfFor } from './compute-mapping';
import { driverOutcome } from './driver-state';
import type { MasterState, SparkClient } from './spark-client';
import { submissionRequest, type EngineJob, type SubmissionContext } from './spark-submission';

export interface SparkBackendDeps {
  client: SparkClient;
  /** The job as the engine needs it, secrets included (JobsService.engineJob). */
  engineJob(jobId: string): Promise<EngineJob>;
  /** The built-in application's jar (`SPARK_APP_JAR`, default the one `npm run build:spark` made). */
  appJar: string;
  /** The gateway's PostgreSQL (the built-in ingestion's destination); null on the embedded default. */
  destinationUrl: string | null;
  maxFailedRowRatio: number;
  kafka?: SubmissionContext['kafka'];
  /** What the mapping could not do as asked, said on the run's log. */
  onNotes?: (run: RunView, notes: string[]) => void;
}

/** How long the master's `spark://` URL is trusted before it is asked again. */
const MASTER_URL_TTL_MS = 60_000;

/**
 * The SPARK backend: runs are drivers on a Spark standalone cluster, submitted in cluster mode
 * over the master's REST API. `submit` hands back the driver id (the run's `externalId`) and its
 * state (SUBMITTED → QUEUED); from then on the poller (spark-poll.service.ts) and, with Kafka, the
 * listener inside the application report. `cancel` kills the driver; the run ends CANCELLED when
 * the poller sees it KILLED.
 */
export function makeSparkBackend(deps: SparkBackendDeps): Backend {
  let masterUrl: { url: string; at: number } | null = null;
  const sparkMaster = async () => {
    if (masterUrl && Date.now() - masterUrl.at < MASTER_URL_TTL_MS) return masterUrl.url;
    const m = await deps.client.master();
    if (!m.url) throw new Error('the Spark master did not say its spark:// URL');
    masterUrl = { url: m.url, at: Date.now() };
    return m.url;
  };
  return {
    kind: ExecutionBackend.SPARK,
    policy: DEFAULT_POLICIES.SPARK,
    sources: SPARK_SOURCES,
    unavailableReason: () =>
      deps.destinationUrl
        ? null
        : 'the SPARK backend needs DATABASE_URL (PostgreSQL): Spark writes the destination over JDBC, which the embedded database cannot serve',
    async submit(run) {
      const job = await deps.engineJob(run.jobId);
      if (!job.processing.sparkApplication && !fs.existsSync(deps.appJar)) {
        throw new Error(`jobwire's Spark application is not at ${deps.appJar}: run npm run build:spark, or set SPARK_APP_JAR`);
      }
      const ctx: SubmissionContext = {
        masterUrl: await sparkMaster(),
        // The file behind the link: a rebuild never changes the jar under a driver that is running.
        appJar: fs.realpathSync(deps.appJar),
        destinationUrl: deps.destinationUrl!,
        maxFailedRowRatio: deps.maxFailedRowRatio,
        kafka: deps.kafka,
      };
      const { request, notes } = submissionRequest(run, job, ctx);
      if (notes.length) deps.onNotes?.(run, notes);
      const driverId = await deps.client.create(request);
      return { externalId: driverId, engineState: 'SUBMITTED', status: RunStatus.QUEUED };
    },
    async cancel(run) {
      if (!run.externalId) return;
      const res = await deps.client.kill(run.externalId);
      // A driver that already ended cannot be killed: the poller reports how it ended.
      if (!res.success && !/not found|already|finished|completed/i.test(res.message ?? '')) {
        throw new Error(`the Spark master did not kill driver ${run.externalId}: ${res.message ?? 'no reason given'}`);
      }
    },
    async preflight(job) {
      const checks: PreflightCheckView[] = [];
      let master: MasterState | null = null;
      try {
        master = await deps.client.master();
        const alive = master.workers.filter((w) => w.state === 'ALIVE').length;
        checks.push({
          name: 'backend',
          ok: master.status === 'ALIVE' && alive > 0,
          message: `the Spark master ${master.url} is ${master.status} with ${alive} worker${alive === 1 ? '' : 's'} alive`,
        });
      } catch (err) {
        checks.push({ name: 'backend', ok: false, message: (err as Error).message });
      }
      const own = job.processing.sparkApplication;
      checks.push(
        own
          ? { name: 'application', ok: true, message: `runs ${own.mainClass} from ${own.appResource}` }
          : fs.existsSync(deps.appJar)
            ? { name: 'application', ok: true, message: `jobwire's ingestion application at ${deps.appJar}` }
            : {
                name: 'application',
                ok: false,
                message: `jobwire's Spark application is not at ${deps.appJar}: run npm run build:spark, or set SPARK_APP_JAR`,
              },
      );
      const mapping = sparkConfFor(job.compute);
      checks.push({
        name: 'compute',
        ok: true,
        message: `maps to ${Object.keys(mapping.conf).length} Spark properties${mapping.notes.length ? `; ${mapping.notes.join(' ')}` : ''}`,
      });
      if (master) {
        const need = capacityNeeded(mapping.conf);
        const workers = master.workers.filter((w) => w.state === 'ALIVE');
        const cores = workers.reduce((a, w) => a + w.cores, 0);
        const memory = workers.reduce((a, w) => a + w.memory, 0);
        checks.push({
          name: 'capacity',
          ok: need.cores <= cores && need.memoryMb <= memory,
          message: `asks for up to ${need.cores} cores and ${need.memoryMb} MiB (the driver and ${need.executors} executor${need.executors === 1 ? '' : 's'}); the cluster has ${cores} cores and ${memory} MiB`,
        });
      }
      return checks;
    },
    async reconcile(run): Promise<Reconciliation> {
      if (!run.externalId) return { state: 'lost', message: 'the run was never handed to Spark (no driver id)' };
      // Unreachable rejects: not a verdict (the stuck monitor asks again next pass).
      const status = await deps.client.status(run.externalId);
      if (!status.success) return { state: 'lost', message: `the Spark master has no driver ${run.externalId}` };
      const o = driverOutcome(status.driverState, { stopRequested: run.status === RunStatus.CANCELLING, message: status.message });
      if (o.status === RunStatus.QUEUED || o.status === RunStatus.RUNNING) return { state: 'alive' };
      if (o.status === RunStatus.FAILED && o.error?.kind === 'TRANSIENT') return { state: 'lost', message: o.error.message };
      return {
        state: 'finished',
        status: o.status as RunStatus.SUCCEEDED | RunStatus.FAILED | RunStatus.CANCELLED,
        message: o.error?.message,
      };
    },
  };
}
