/**
 * The SQL of jobwire's background workers: claiming LOCAL runs, leases, due schedules, due retries
 * and stuck runs. Every function takes the EntityManager of a `runEvents.transact(tx => …)` unit
 * (`tx.em`), so a claim or lock commits together with the state change made through `tx.apply`.
 *
 * Locking reads use `FOR UPDATE SKIP LOCKED`: with several gateways on one database, each row is
 * handled by whichever gets there first, and nobody waits for anybody. Scans without a lock are
 * followed by a `lock…` call that re-checks the condition under the lock, because the row may have
 * changed (or been handled by another gateway) in between.
 *
 * Times are the application's clock (`now`), like every timestamp the run-event service writes.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ExecutionBackend, RunStatus } from '../domain';
import { ACTIVE_SQL as ACTIVE } from './run-sql';

const EXECUTING = `('${RunStatus.RUNNING}', '${RunStatus.CANCELLING}')`;
const LOCAL = `'${ExecutionBackend.LOCAL}'`;

// MikroORM leaves timestamps of raw queries as the driver's strings.
const toDate = (v: string | Date): Date => (v instanceof Date ? v : new Date(v));

/**
 * Claims up to `limit` QUEUED LOCAL runs nobody holds, oldest `queued_at` first: sets
 * `lease_owner = instanceId` and `lease_expires_at = now + leaseMs`. Returns their ids in queue
 * order. The caller moves them to RUNNING with `tx.apply` in the same transaction.
 */
export async function claimQueuedLocalRuns(
  em: EntityManager,
  opts: { instanceId: string; leaseMs: number; limit: number; now?: Date },
): Promise<string[]> {
  if (opts.limit <= 0) return [];
  const now = opts.now ?? new Date();
  const rows: { id: string; queued_at: string | Date | null }[] = await em.execute(
    `update runs set lease_owner = ?, lease_expires_at = ?
     where id in (
       select id from runs
       where status = '${RunStatus.QUEUED}' and backend = ${LOCAL} and lease_owner is null
       order by queued_at nulls last, created_at
       limit ?
       for update skip locked)
     returning id, queued_at`,
    [opts.instanceId, new Date(now.getTime() + opts.leaseMs), opts.limit],
  );
  const at = (r: (typeof rows)[number]) => (r.queued_at ? toDate(r.queued_at).getTime() : Infinity);
  return rows.sort((a, b) => at(a) - at(b)).map((r) => r.id);
}

/** What {@link checkLease} saw of an executing run. */
export interface LeaseCheck {
  status: RunStatus;
  attempt: number;
  /** Whether `instanceId` still holds the run's lease (false once it ended, or another gateway took it). */
  owned: boolean;
}

/**
 * Reads an executing run's status and, when `renewMs` is given and this instance still holds the
 * lease, extends it to `now + renewMs`. Null when the run no longer exists. Waits (briefly) for a
 * row lock held by a concurrent apply rather than skipping: a renewal must not be lost.
 */
export async function checkLease(
  em: EntityManager,
  opts: { runId: string; instanceId: string; renewMs?: number; now?: Date },
): Promise<LeaseCheck | null> {
  const now = opts.now ?? new Date();
  if (opts.renewMs !== undefined) {
    const renewed: { status: RunStatus; attempt: number }[] = await em.execute(
      `update runs set lease_expires_at = ?
       where id = ? and lease_owner = ? and status in ${EXECUTING}
       returning status, attempt`,
      [new Date(now.getTime() + opts.renewMs), opts.runId, opts.instanceId],
    );
    if (renewed.length) return { ...renewed[0], owned: true };
  }
  const rows: { status: RunStatus; attempt: number; lease_owner: string | null }[] = await em.execute(
    'select status, attempt, lease_owner from runs where id = ?',
    [opts.runId],
  );
  if (!rows.length) return null;
  const r = rows[0];
  return { status: r.status, attempt: r.attempt, owned: r.lease_owner === opts.instanceId };
}

/**
 * Gives up every lease `instanceId` still holds, at shutdown. Runs that are still executing keep
 * their owner but their lease expires now, so any gateway's stuck monitor fails (and retries)
 * them on its next pass instead of after a full lease period. Returns how many rows changed.
 */
export async function releaseLeases(em: EntityManager, instanceId: string, now: Date = new Date()): Promise<number> {
  const expired = await em.execute(`update runs set lease_expires_at = ? where lease_owner = ? and status in ${EXECUTING} returning id`, [
    now,
    instanceId,
  ]);
  const cleared = await em.execute(
    `update runs set lease_owner = null, lease_expires_at = null
     where lease_owner = ? and status not in ${EXECUTING} returning id`,
    [instanceId],
  );
  return expired.length + cleared.length;
}

/** Ids of jobs whose schedule is due (`next_run_at <= now`), earliest first. No lock: see {@link lockDueJob}. */
export async function dueScheduleIds(em: EntityManager, limit: number, now: Date = new Date()): Promise<string[]> {
  const rows: { id: string }[] = await em.execute('select id from jobs where next_run_at <= ? order by next_run_at limit ?', [now, limit]);
  return rows.map((r) => r.id);
}

/**
 * Locks a job whose schedule is still due; the due time, or null when another gateway holds it or
 * already advanced it.
 */
export async function lockDueJob(em: EntityManager, jobId: string, now: Date = new Date()): Promise<Date | null> {
  const rows: { next_run_at: string | Date }[] = await em.execute(
    'select next_run_at from jobs where id = ? and next_run_at <= ? for update skip locked',
    [jobId, now],
  );
  return rows.length ? toDate(rows[0].next_run_at) : null;
}

/** Whether the job has a run that is not finished (PENDING, QUEUED, RUNNING, CANCELLING). */
export async function hasActiveRun(em: EntityManager, jobId: string): Promise<boolean> {
  const rows = await em.execute(`select 1 from runs where job_id = ? and status in ${ACTIVE} limit 1`, [jobId]);
  return rows.length > 0;
}

/** Ids of FAILED runs whose automatic retry is due, earliest first. No lock: see {@link lockDueRetry}. */
export async function dueRetryIds(em: EntityManager, limit: number, now: Date = new Date()): Promise<string[]> {
  const rows: { id: string }[] = await em.execute(
    `select id from runs where next_retry_at <= ? and status = '${RunStatus.FAILED}' order by next_retry_at limit ?`,
    [now, limit],
  );
  return rows.map((r) => r.id);
}

/** Locks a run whose retry is still due; false when another gateway holds it or already started it. */
export async function lockDueRetry(em: EntityManager, runId: string, now: Date = new Date()): Promise<boolean> {
  const rows = await em.execute(
    `select id from runs where id = ? and next_retry_at <= ? and status = '${RunStatus.FAILED}' for update skip locked`,
    [runId, now],
  );
  return rows.length > 0;
}

/** Why a run counts as stuck. */
export type StuckReason = 'lease-expired' | 'silent';

export interface StuckRun {
  id: string;
  attempt: number;
  reason: StuckReason;
}

// A LOCAL run is alive while its executor renews the lease; every other active run is alive while
// it gets updates. LOCAL QUEUED runs merely wait for capacity and are never stuck.
// Placeholders, in order: now, silentSince, now.
// A LOCAL run executing without any lease (moved to RUNNING by something other than an executor)
// counts as expired: no gateway is renewing it.
const STUCK_REASON = `case
  when backend = ${LOCAL} and status in ${EXECUTING} and coalesce(lease_expires_at, '-infinity') < ? then 'lease-expired'
  when status in ${ACTIVE} and updated_at < ?
       and not (backend = ${LOCAL} and status = '${RunStatus.QUEUED}')
       and not (backend = ${LOCAL} and lease_expires_at >= ?) then 'silent'
end`;

/**
 * The SQL predicate "this active run looks dead" (see {@link findStuckRuns}) and its parameters:
 * the one definition used by the stuck-run monitor and by `jobStats.stuckRuns`.
 */
export function stuckPredicate(thresholdMs: number, now: Date): { sql: string; params: Date[] } {
  return { sql: `status in ${ACTIVE} and (${STUCK_REASON}) is not null`, params: stuckParams(thresholdMs, now) };
}

function stuckParams(thresholdMs: number, now: Date): Date[] {
  return [now, new Date(now.getTime() - thresholdMs), now];
}

/**
 * The runs that look dead, for the stuck-run monitor and `jobStats.stuckRuns` alike: LOCAL runs
 * whose executor lease expired (their gateway died), and runs of any backend without an update for
 * `thresholdMs` (LOCAL QUEUED runs excepted, and LOCAL runs whose lease is still being renewed).
 * Longest silent first, with why each is stuck. No lock: see {@link lockStuckRun}.
 */
export function stuckRunsQuery(thresholdMs: number, limit: number, now = new Date()): { sql: string; params: unknown[] } {
  const p = stuckPredicate(thresholdMs, now);
  return {
    sql: `select *, ${STUCK_REASON} as stuck_reason from runs where ${p.sql} order by updated_at, id limit ?`,
    params: [...p.params, ...p.params, limit],
  };
}

/**
 * Locks a run found by {@link stuckRunsQuery} if it is still stuck in the same way and on the same
 * attempt; its reason and current status then, or null (another gateway holds it, or it moved on).
 */
export async function lockStuckRun(
  em: EntityManager,
  run: StuckRun,
  opts: { thresholdMs: number; now?: Date },
): Promise<{ reason: StuckReason; status: RunStatus } | null> {
  const rows: { reason: StuckReason | null; status: RunStatus }[] = await em.execute(
    `select ${STUCK_REASON} as reason, status from runs where id = ? and attempt = ? for update skip locked`,
    [...stuckParams(opts.thresholdMs, opts.now ?? new Date()), run.id, run.attempt],
  );
  const r = rows[0];
  return r?.reason ? { reason: r.reason, status: r.status } : null;
}
