import type { ComputeConfig, Destination, ProcessingConfig, RunView, SourceConfig } from '../../domain';
import type { CreateSubmissionRequest } from './spark-client';
import { appendSparkList, sparkConfFor } from './compute-mapping';

/** jobwire's own Spark application (the `spark/` module): the built-in ingestion and the listener. */
export const INGEST_MAIN_CLASS = 'dev.jobwire.spark.IngestApp';
export const LISTENER_CLASS = 'dev.jobwire.spark.JobwireListener';

/** What a submission needs of a job: everything, secrets included (they travel in the driver's environment only). */
export interface EngineJob {
  id: string;
  source: SourceConfig;
  destination: Destination;
  processing: ProcessingConfig;
  compute: ComputeConfig;
}

export interface SubmissionContext {
  /** `spark://host:port`, as the master calls itself. */
  masterUrl: string;
  /** The built-in application's jar (absolute path on the cluster's machines). */
  appJar: string;
  /** Where the built-in ingestion writes: a PostgreSQL URL (the gateway's database). */
  destinationUrl: string;
  maxFailedRowRatio: number;
  /** With Kafka: the listener pushes stage progress, metrics and heartbeats to this topic. */
  kafka?: { brokers: string[]; topic: string; heartbeatMs: number };
}

/** The application name of a run's attempt: unique, so the master's application list tells which is whose. */
export const appName = (runId: string, attempt: number) => `jobwire-${runId}-a${attempt}`;

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * The REST `CreateSubmissionRequest` of one attempt, in cluster mode. Properties, in order of
 * precedence: what jobwire must set (master, deploy mode, app name, jars, the listener), over the
 * job's own `sparkConf`, over the compute mapping (see compute-mapping.ts). Only `sparkProperties`
 * reach a REST-submitted driver (spark-defaults.conf does not). The built-in ingestion gets its
 * whole job — secrets included — as `JOBWIRE_SPEC` in the driver's environment, never in its
 * arguments or properties (the master and Spark UIs show those). Returns the request and the
 * mapping's notes (what Spark cannot do as asked).
 */
export function submissionRequest(
  run: RunView,
  job: EngineJob,
  ctx: SubmissionContext,
): { request: CreateSubmissionRequest; notes: string[] } {
  const mapping = sparkConfFor(job.compute);
  const app = job.processing.sparkApplication ?? null;
  const jar = `file:${ctx.appJar}`;
  let props: Record<string, string> = {
    ...mapping.conf,
    'spark.master': ctx.masterUrl,
    'spark.submit.deployMode': 'cluster',
    'spark.app.name': appName(run.id, run.attempt),
    'spark.driver.supervise': 'false',
  };
  // The application jar first, then jobwire's (the listener, for a user's application), then the job's own extra jars.
  props = appendSparkList(props, 'spark.jars', app ? [app.appResource, jar] : [jar]);
  // A cluster on this machine: the driver binds where its executors can reach it.
  const masterHost = new URL(ctx.masterUrl.replace(/^spark:/, 'http:')).hostname;
  if (LOOPBACK.test(masterHost) && !props['spark.driver.host']) props['spark.driver.host'] = '127.0.0.1';
  if (ctx.kafka) {
    props = appendSparkList(props, 'spark.extraListeners', [LISTENER_CLASS]);
    props['spark.jobwire.kafka.brokers'] = ctx.kafka.brokers.join(',');
    props['spark.jobwire.kafka.topic'] = ctx.kafka.topic;
    props['spark.jobwire.runId'] = run.id;
    props['spark.jobwire.attempt'] = String(run.attempt);
    props['spark.jobwire.heartbeatMs'] = String(ctx.kafka.heartbeatMs);
  }
  const env: Record<string, string> = { JOBWIRE_RUN_ID: run.id, JOBWIRE_ATTEMPT: String(run.attempt), JOBWIRE_JOB_ID: job.id };
  if (!app) env.JOBWIRE_SPEC = Buffer.from(JSON.stringify(ingestSpec(run, job, ctx)), 'utf8').toString('base64');
  return {
    request: {
      appResource: app ? app.appResource : jar,
      mainClass: app ? app.mainClass : INGEST_MAIN_CLASS,
      appArgs: app ? app.args : [run.id],
      sparkProperties: props,
      environmentVariables: env,
    },
    notes: mapping.notes,
  };
}

/** The built-in ingestion's input (`JOBWIRE_SPEC`, the spark/ module reads it). */
export function ingestSpec(run: RunView, job: EngineJob, ctx: SubmissionContext) {
  return {
    runId: run.id,
    attempt: run.attempt,
    jobId: job.id,
    source: {
      type: job.source.type,
      format: job.processing.format,
      params: job.source.params,
      filePattern: job.source.filePattern,
      schemaInference: job.source.schemaInference,
    },
    destination: { url: ctx.destinationUrl, schema: job.destination.schema, table: job.destination.table },
    processing: { batchSize: job.processing.batchSize, maxFailedRowRatio: ctx.maxFailedRowRatio },
  };
}
