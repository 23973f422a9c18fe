import { connectionExecutor, type Sql } from '../../db/sql';
import { IngestError } from './ingest/errors';
import type { BeforeCommit } from './ingest/sinks';
import { ReadableClaims } from './readable-claims';
import type { ReadableCheck } from './source-readable';
import {
  ErrorKind,
  ExecutionBackend,
  RunStatus,
  type Destination,
  type ProcessingConfig,
  type RunView,
  type SourceConfig,
} from '../../domain';
import type { CoreEvent } from '../../runs/core-events';
import type { RunEventsService } from '../../runs/run-events.service';
import type { LogInput } from '../../runs/run-event';

/** What an executor needs of a job to run it (`source.params` unmasked: never log it). */
export interface JobSpec {
  source: SourceConfig;
  processing: ProcessingConfig;
  destination: Destination;
}

/** A run an executor of this gateway now holds, with the definition it runs. */
export interface ClaimedRun {
  run: RunView;
  job: JobSpec;
}

/** What renewing a lease found. */
export interface LeaseCheck {
  status: RunStatus;
  attempt: number;
  /** Whether the owner still holds the lease (false once it ended, or another gateway took it). */
  owned: boolean;
}

export interface LocalQueueDeps {
  runEvents: RunEventsService;
  sql: Sql;
}

/**
 * jobwire's own queue of LOCAL runs, as the executors of every gateway share it: claims under
 * `FOR UPDATE SKIP LOCKED` (each run executes once, nobody waits for anybody), lease renewals,
 * hand-backs at a graceful stop and the release of leases. Every change goes through the run-event
 * service; this service only reads the job definitions the executors need.
 */
export class LocalQueueService {
  private readonly readableClaims: ReadableClaims;

  constructor(private readonly deps: LocalQueueDeps) {
    this.readableClaims = new ReadableClaims({ sql: deps.sql, runEvents: deps.runEvents });
  }

  /**
   * Claims up to `limit` QUEUED LOCAL runs, oldest first, for `owner` (RUNNING with a lease of
   * `leaseMs`), each with its job's definition. A run whose job vanished fails PERMANENT instead.
   * With `readable`, only runs whose sources this gateway may read are claimed; the others stay
   * queued for a replica that may, or fail PERMANENT when no live replica may (see ReadableClaims).
   */
  async claim(opts: { owner: string; leaseMs: number; limit: number; producer?: string; readable?: ReadableCheck }): Promise<ClaimedRun[]> {
    const ids = opts.readable && opts.limit > 0 ? await this.readableClaims.readable(opts.readable, opts) : undefined;
    const runs = await this.deps.runEvents.claimQueued(ExecutionBackend.LOCAL, { ...opts, ids });
    if (runs.length === 0) return [];
    const jobs = await this.deps.sql.query<JobSpec & { id: string }>(
      'select id, source, processing, destination from jobs where id = any($1::uuid[])',
      [[...new Set(runs.map((r) => r.jobId))]],
      'jobwire_job_specs',
    );
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const orphans = runs.filter((r) => !byId.has(r.jobId));
    if (orphans.length) {
      const error = { message: 'the job of this run no longer exists', kind: ErrorKind.PERMANENT, details: null };
      await this.deps.runEvents.applyBatch(
        orphans.map((r) => ({
          runId: r.id,
          attempt: r.attempt,
          type: 'run.status',
          producer: opts.producer,
          payload: { status: RunStatus.FAILED, error },
        })),
      );
    }
    return runs
      .filter((r) => byId.has(r.jobId))
      .map((run) => {
        const { source, processing, destination } = byId.get(run.jobId)!;
        return { run, job: structuredClone({ source, processing, destination }) };
      });
  }

  /**
   * Renews `owner`'s leases on these runs to `leaseMs` from now, and says how each stands (a stop
   * request, another gateway taking over, the run gone). Runs that no longer exist are absent.
   */
  async renew(owner: string, runIds: readonly string[], leaseMs: number): Promise<Map<string, LeaseCheck>> {
    const results = await this.deps.runEvents.applyBatch(
      runIds.map((runId) => ({ runId, type: 'run.lease', payload: { owner, leaseMs } })),
    );
    const out = new Map<string, LeaseCheck>();
    results.forEach((r, i) => {
      if (!r.run) return;
      out.set(runIds[i], { status: r.run.status, attempt: r.run.attempt, owned: r.outcome === 'applied' });
    });
    return out;
  }

  /**
   * Hands RUNNING runs back to the queue without spending an attempt (the gateway is stopping and
   * their loads were rolled back): QUEUED again, same attempt, first in line. `lines` are log lines
   * to store with the hand-back, per run.
   */
  async handBack(owner: string, runs: { runId: string; attempt: number; lines: LogInput[] }[], reason: string): Promise<number> {
    const events: CoreEvent[] = [];
    for (const r of runs) {
      if (r.lines.length) events.push({ runId: r.runId, attempt: r.attempt, type: 'run.log', payload: { lines: r.lines } });
      events.push({ runId: r.runId, attempt: r.attempt, type: 'run.requeue', payload: { owner, reason } });
    }
    const results = await this.deps.runEvents.applyBatch(events);
    return results.filter((r, i) => events[i].type === 'run.requeue' && r.outcome === 'applied').length;
  }

  /**
   * The fence of a LOCAL load (its sink's {@link BeforeCommit}): in the load's own transaction on
   * jobwire's database, renews `owner`'s lease on the run's attempt and locks the run's row, so the
   * load commits only while `owner` holds the run, and no takeover can come between the check and
   * the commit; the renewed lease then leaves the executor a whole lease to report the outcome.
   * When the lease is gone (it ran out and the run was failed or handed on, another gateway claimed
   * it, the run ended) `onLost` runs and the load is rolled back with a TRANSIENT IngestError.
   */
  commitFence(lease: { runId: string; attempt: number; owner: string; leaseMs: number }, onLost: () => void): BeforeCommit {
    return async (client) => {
      if (await this.deps.runEvents.holdLeaseIn(connectionExecutor(client), lease)) return;
      onLost();
      throw new IngestError(
        'TRANSIENT',
        `${lease.owner} no longer holds the lease on attempt ${lease.attempt} of run ${lease.runId}: its load was rolled back, nothing committed`,
      );
    };
  }

  /**
   * Says that `owner`'s executor, whose sources `readable` describes, is alive (also while it has no
   * slot free to claim): replicas decide from that whether any of them may still read a run.
   */
  announce(readable: ReadableCheck, owner: string, leaseMs: number): Promise<void> {
    return this.readableClaims.announce(readable, owner, leaseMs);
  }

  /** Gives up every lease `owner` still holds (see RunEventsService.releaseLeases). */
  release(owner: string): Promise<number> {
    return this.deps.runEvents.releaseLeases(owner);
  }
}
