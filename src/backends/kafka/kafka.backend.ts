import { randomUUID } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { ExecutionBackend, type RunView } from '../../domain';
import type { CommandJob, RunCommand } from '../../events/run-event.schema';
import { DEFAULT_POLICIES } from '../../runs/run-apply';
import { ENGINE_SOURCES, type Backend, type Reconciliation } from '../backend';

export interface KafkaBackendDeps {
  producer: Pick<Producer, 'send'>;
  /** The topic commands go to (`KAFKA_TOPIC_RUN_COMMANDS`). */
  commandsTopic: string;
  /** What a worker needs of a job to run it, its secret params left out (JobsService.commandJob). */
  commandJob(jobId: string): Promise<CommandJob>;
  now?: () => Date;
}

/**
 * The KAFKA backend: runs execute in external workers (the one shipped as `jobwire-worker`, or any
 * that speaks docs/events.md). Submitting produces a `start` command on the commands topic (key =
 * runId) and the run waits PENDING until a worker reports; stopping produces `stop`. Liveness is
 * the workers' events themselves: a run nobody reports on for the stuck threshold is lost, and
 * retried.
 */
export function makeKafkaBackend(deps: KafkaBackendDeps): Backend {
  const command = (c: RunCommand) =>
    deps.producer.send({ topic: deps.commandsTopic, acks: -1, messages: [{ key: c.runId, value: JSON.stringify(c) }] });
  const base = (run: RunView) => ({
    commandId: randomUUID(),
    runId: run.id,
    attempt: run.attempt,
    jobId: run.jobId,
    issuedAt: (deps.now?.() ?? new Date()).toISOString(),
  });
  return {
    kind: ExecutionBackend.KAFKA,
    policy: DEFAULT_POLICIES.KAFKA,
    sources: ENGINE_SOURCES,
    unavailableReason: () => null,
    async submit(run) {
      await command({ ...base(run), type: 'start', job: await deps.commandJob(run.jobId) });
      return {};
    },
    async cancel(run) {
      await command({ ...base(run), type: 'stop' });
    },
    async reconcile(): Promise<Reconciliation> {
      // No one to ask: a worker that is alive says so with its events (heartbeats included).
      return { state: 'lost', message: 'no event or heartbeat from any worker for the stuck threshold' };
    },
  };
}
