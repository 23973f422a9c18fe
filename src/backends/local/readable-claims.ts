/**
 * Which queued LOCAL runs this gateway may claim when replicas differ in what their sources may
 * reach (LOCAL_SOURCE_ROOTS, SOURCE_ALLOWED_NETWORKS). A run this gateway may not read is left in
 * the queue without spending an attempt, for a replica that may; its log says so once per gateway.
 * A run that no live replica may read fails PERMANENT instead of waiting forever.
 *
 * Which replicas are alive, and which kinds of them (by {@link ReadableCheck.fingerprint}) found a
 * run unreadable, is kept in jobwire's `worker_leases` table: `local-executor:<fingerprint>:<owner>`
 * while an executor runs (renewed every third of its lease, dropped at its stop), and
 * `local-skip:<run>:<attempt>:<fingerprint>` when one kind of replica skipped a run.
 */
import type { Sql } from '../../db/sql';
import { ErrorKind, ExecutionBackend, LogLevel, RunStatus } from '../../domain';
import type { RunEventsService } from '../../runs/run-events.service';
import type { CoreEvent } from '../../runs/core-events';
import type { ReadableCheck } from './source-readable';

/** A run found unreadable here is looked at again after this long (its job's source may have changed, or a replica left). */
export const RECHECK_MS = 10_000;
/** How long a skip mark counts. */
const SKIP_MARK_MS = 24 * 3600_000;
/** Queued runs looked at per claim, per free slot. */
const CANDIDATES_PER_SLOT = 4;

interface Candidate {
  id: string;
  attempt: number;
  source: { type: string; params: Record<string, unknown> } | null;
}

export interface ReadableClaimsDeps {
  sql: Sql;
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  now?: () => Date;
}

/** The claim filter of one gateway's LOCAL executor (see the module comment). */
export class ReadableClaims {
  /** `owner` → `run:attempt` it found unreadable → when (one entry per executor: several may share this service in one process). */
  private readonly skipped = new Map<string, Map<string, number>>();
  /** `owner:run:attempt` whose log already says that executor skipped it. */
  private readonly told = new Set<string>();
  /** `owner` → when it last announced itself. */
  private readonly announcedAt = new Map<string, number>();

  constructor(private readonly deps: ReadableClaimsDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * Says that `owner`, a kind of replica `check` describes, executes LOCAL runs — at most every
   * third of `leaseMs`, the registration lasting two `leaseMs` — and clears expired registrations and marks.
   */
  async announce(check: ReadableCheck, owner: string, leaseMs: number): Promise<void> {
    const now = this.now();
    if (now.getTime() - (this.announcedAt.get(owner) ?? 0) < leaseMs / 3) return;
    await this.deps.sql.query(
      `insert into worker_leases (name, owner, expires_at) values ($1, $2, $3)
       on conflict (name) do update set expires_at = excluded.expires_at`,
      [`local-executor:${check.fingerprint}:${owner}`, owner, new Date(now.getTime() + 2 * leaseMs)],
      'jobwire_local_announce',
    );
    await this.deps.sql.query(
      `delete from worker_leases where (name like 'local-executor:%' or name like 'local-skip:%') and expires_at < $1`,
      [now],
      'jobwire_local_expired',
    );
    this.announcedAt.set(owner, now.getTime());
  }

  /**
   * Ids of up to `limit` queued LOCAL runs, oldest first, whose sources `check` finds readable; the
   * others are skipped (see the module comment). Runs whose job vanished count as readable (the
   * claim fails them).
   */
  async readable(check: ReadableCheck, opts: { owner: string; limit: number; leaseMs: number; producer?: string }): Promise<string[]> {
    await this.announce(check, opts.owner, opts.leaseMs);
    const now = this.now().getTime();
    let skipped = this.skipped.get(opts.owner);
    if (!skipped) this.skipped.set(opts.owner, (skipped = new Map()));
    for (const [key, at] of skipped) if (now - at >= RECHECK_MS) skipped.delete(key);
    const rows = await this.deps.sql.query<Candidate>(
      `select r.id, r.attempt, j.source from runs r left join jobs j on j.id = r.job_id
        where r.status = 'QUEUED' and r.backend = $1 and r.lease_owner is null and not (r.id = any($2::uuid[]))
        order by r.queued_at nulls last, r.created_at limit $3`,
      [ExecutionBackend.LOCAL, [...skipped.keys()].map((k) => k.split(':')[0]), opts.limit * CANDIDATES_PER_SLOT],
      'jobwire_local_candidates',
    );
    const ok: string[] = [];
    const unreadable: (Candidate & { reason: string })[] = [];
    for (const r of rows) {
      const reason = r.source ? await check.notReadable(r.source as never) : null;
      if (reason === null) ok.push(r.id);
      else unreadable.push({ ...r, reason });
    }
    if (unreadable.length) await this.skip(check, unreadable, opts);
    return ok.slice(0, opts.limit);
  }

  private async skip(check: ReadableCheck, runs: (Candidate & { reason: string })[], opts: { owner: string; producer?: string }) {
    const now = this.now();
    const marks = runs.map((r) => `local-skip:${r.id}:${r.attempt}:${check.fingerprint}`);
    await this.deps.sql.query(
      `insert into worker_leases (name, owner, expires_at) select unnest($1::text[]), $2, $3
       on conflict (name) do update set expires_at = excluded.expires_at`,
      [marks, opts.owner, new Date(now.getTime() + SKIP_MARK_MS)],
      'jobwire_local_skip',
    );
    const live = await this.deps.sql.query<{ kind: string }>(
      `select distinct split_part(name, ':', 2) as kind from worker_leases where name like 'local-executor:%' and expires_at > $1`,
      [now],
      'jobwire_local_live',
    );
    const seen = await this.deps.sql.query<{ name: string }>(
      `select name from worker_leases where name like any($1::text[]) and expires_at > $2`,
      [runs.map((r) => `local-skip:${r.id}:${r.attempt}:%`), now],
      'jobwire_local_seen',
    );
    const events: CoreEvent[] = [];
    for (const r of runs) {
      const key = `${r.id}:${r.attempt}`;
      this.skipped.get(opts.owner)?.set(key, now.getTime());
      const kinds = new Set(seen.filter((s) => s.name.startsWith(`local-skip:${key}:`)).map((s) => s.name.split(':')[3]));
      if (live.every((l) => kinds.has(l.kind))) {
        const message = `no gateway executing LOCAL runs may read this run's source: ${r.reason}`;
        const error = { message, kind: ErrorKind.PERMANENT, details: null };
        events.push({
          runId: r.id,
          attempt: r.attempt,
          type: 'run.status',
          producer: opts.producer,
          payload: { status: RunStatus.FAILED, message, error },
        });
      } else if (!this.told.has(`${opts.owner}:${key}`)) {
        if (this.told.size > 10_000) this.told.clear();
        this.told.add(`${opts.owner}:${key}`);
        const message = `not claimed by ${opts.owner}: ${r.reason}; it waits for a gateway that may read it`;
        events.push({
          runId: r.id,
          attempt: r.attempt,
          type: 'run.log',
          producer: opts.producer,
          payload: { lines: [{ level: LogLevel.WARN, message }] },
        });
      }
    }
    if (events.length) await this.deps.runEvents.applyBatch(events);
  }
}
