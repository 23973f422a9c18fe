import { randomUUID } from 'node:crypto';
import type { EngineJob } from '../backends/spark/spark-submission';
import type { PreflightCheckView } from '../backends/backend';
import type { ComputePresetView, ConnectionTestResultView, JobsApi, PreflightResultView, SourceTypeInfoView } from '../api';
import type { BackendRegistry } from '../backends/backend';
import type { Config } from '../config';
import { claimIdempotencyKey } from '../db/idempotency-keys';
import type { Sql, SqlExecutor } from '../db/sql';
import { ACTIVE_RUN_STATUSES, JobStatus, type JobView } from '../domain';
import { badInput, coerceError, conflict, notFound } from '../errors';
import type { Logger } from '../logger';
import { decodeTimeCursor, encodeTimeCursor, escapeLike, isUuid, pageSize, toConnection } from '../pagination';
import type { RunEventsService } from '../runs/run-events.service';
import { checkIdempotencyKey } from '../runs/runs.service';
import { sqlList } from '../runs/run-sql';
import { testSourceConnection } from './connection-test';
import { nextRunAt } from './cron';
import type { ComputeConfigInput, Connection, CreateJobInput, JobFilter, PageArgs, SourceConfigInput, UpdateJobInput } from './job-input';
import { validateCompute, validateCreateJob, validateJobUpdate, type Capabilities, type JobDraft } from './job-validation';
import { JOB_COLUMNS, toJobDraft, toJobView, type JobDefaults, type JobRow } from './job-view';
import { checkLocalRoots, sourceAccessFrom } from './source-access';
import type { SourceAccess } from '../backends/local/ingest/sources';
import { computePresets, findPreset, presetNames } from './presets';
import { sourceTypes } from './source-types';
import { withoutSecrets } from './secrets';
import type { CommandJob } from '../events/run-event.schema';

export interface JobsServiceDeps {
  sql: Sql;
  /** Deleting a job deletes its runs: through the one writer of run state. */
  runEvents: RunEventsService;
  backends: BackendRegistry;
  config: Readonly<Config>;
  logger: Logger;
  now?: () => Date;
}

const ACTIVE = sqlList(ACTIVE_RUN_STATUSES);

const WRITE_COLUMNS = `name, description, tags, backend, source, destination, processing, compute, schedule, next_run_at, max_attempts,
  stall_timeout_seconds, on_stall`;

/** The values of {@link WRITE_COLUMNS} for a draft, from `$first` on. */
function writeValues(draft: JobDraft, nextRun: Date | null): unknown[] {
  return [
    draft.name,
    draft.description,
    JSON.stringify(draft.tags),
    draft.backend,
    JSON.stringify(draft.source),
    JSON.stringify(draft.destination),
    JSON.stringify(draft.processing),
    JSON.stringify(draft.compute),
    draft.schedule ? JSON.stringify(draft.schedule) : null,
    nextRun,
    draft.maxAttempts,
    draft.stallTimeoutSeconds,
    draft.onStall,
  ];
}

/**
 * Job definitions: create, change, delete, list. Every input is validated in full before anything
 * is written (including whether the job's backend can execute its source here), and every write is
 * one transaction. Every JobView returned has its secrets masked.
 */
export class JobsService implements JobsApi {
  private readonly logger: Logger;
  private readonly defaults: JobDefaults;
  private readonly capabilities: Capabilities;
  /** What sources may reach here (LOCAL_SOURCE_ROOTS, SOURCE_ALLOWED_NETWORKS), for connection tests. */
  private readonly access: Required<SourceAccess>;

  /** `logger` should carry the component (`component: 'jobs'`): the composition root binds it. */
  constructor(private readonly deps: JobsServiceDeps) {
    this.logger = deps.logger;
    this.defaults = {
      maxAttempts: deps.config.retryMaxAttempts,
      stallTimeoutSeconds: Math.round(deps.config.stallThresholdMs / 1000),
    };
    this.capabilities = (kind) => deps.backends.get(kind)?.sources ?? [];
    this.access = sourceAccessFrom(deps.config);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private view(row: JobRow): JobView {
    return toJobView(row, this.defaults);
  }

  /**
   * Creates a job; BAD_USER_INPUT (nothing written) when any field is invalid or its backend cannot
   * execute its source. The same `idempotencyKey` within 24 h returns the job the first call made
   * and creates nothing, also when the calls run at the same time. `actor` (the caller's subject)
   * is recorded as the job's `createdBy`.
   */
  async create(input: CreateJobInput, opts: { idempotencyKey?: string | null; actor?: string | null } = {}): Promise<JobView> {
    const key = checkIdempotencyKey(opts.idempotencyKey);
    const draft = validateCreateJob(input, this.capabilities);
    checkLocalRoots(draft.source, this.deps.config.localSourceRoots, 'input.source.params.path');
    const now = this.now();
    const id = randomUUID();
    const result = await this.deps.sql.transaction(async (tx) => {
      if (key) {
        const claim = await claimIdempotencyKey(tx, { scope: 'createJob', key, resultId: id, now });
        if (!claim.fresh) {
          const first = await this.read(tx, claim.resultId);
          if (first) return { row: first, created: false };
          // The job the key made was deleted since: the key now names the new one.
          await tx.query("update idempotency_keys set result_id = $2, created_at = $3 where scope = 'createJob' and key = $1", [
            key,
            id,
            now,
          ]);
        }
      }
      const rows = await tx.query<JobRow>(
        `insert into jobs (id, ${WRITE_COLUMNS}, status, run_counter, created_at, updated_at, created_by)
         values ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15, 0, $16, $16, $17)
         returning ${JOB_COLUMNS}`,
        [id, ...writeValues(draft, draft.schedule ? nextRunAt(draft.schedule, now) : null), JobStatus.CREATED, now, opts.actor ?? null],
      );
      return { row: rows[0], created: true };
    });
    if (result.created) this.logger.info({ jobId: id, backend: draft.backend, sourceType: draft.source.type }, 'job created');
    return this.view(result.row);
  }

  /**
   * Changes the fields given; absent ones stay. `schedule: null` removes the schedule; a given
   * schedule recomputes `nextRunAt`. Source params sent back masked (`"***"`) keep the stored secret.
   * Changing `source`, `destination` or `processing` while a run is active is allowed: the active
   * run keeps what it started with, the change applies from the next run.
   * NOT_FOUND for an unknown id; BAD_USER_INPUT (nothing written) for invalid input.
   */
  async update(id: string, input: UpdateJobInput): Promise<JobView> {
    const row = await this.deps.sql.transaction(async (tx) => {
      const job = await this.lock(tx, id);
      const draft = validateJobUpdate(input, toJobDraft(job), this.capabilities);
      if (input.source) checkLocalRoots(draft.source, this.deps.config.localSourceRoots, 'input.source.params.path');
      const next = input.schedule !== undefined ? (draft.schedule ? nextRunAt(draft.schedule, this.now()) : null) : job.nextRunAt;
      return this.write(tx, id, draft, next);
    });
    return this.view(row);
  }

  /**
   * Deletes a job with its runs, stages, log lines, metric samples and idempotency keys, in one
   * transaction. CONFLICT while a run is active; NOT_FOUND for an unknown id.
   */
  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) throw notFound('Job', id);
    await this.deps.runEvents.deleteJob(id);
    this.logger.info({ jobId: id }, 'job deleted');
    return true;
  }

  /** Merges `input` into the job's compute. CONFLICT while a run is active. */
  async updateCompute(jobId: string, input: ComputeConfigInput): Promise<JobView> {
    const row = await this.deps.sql.transaction(async (tx) => {
      const job = await this.lock(tx, jobId);
      const compute = validateCompute(input, structuredClone(job.compute), 'input');
      await this.refuseWhileActive(tx, jobId, 'given new compute');
      return this.write(tx, jobId, { ...toJobDraft(job), compute }, job.nextRunAt);
    });
    return this.view(row);
  }

  /** Replaces the job's compute with a preset's. BAD_USER_INPUT (`preset`) for an unknown name; CONFLICT while a run is active. */
  async applyComputePreset(jobId: string, preset: string): Promise<JobView> {
    const found = findPreset(preset);
    if (!found) throw badInput('preset', `unknown preset ${JSON.stringify(preset)}; one of ${presetNames().join(', ')}`);
    const row = await this.deps.sql.transaction(async (tx) => {
      const job = await this.lock(tx, jobId);
      await this.refuseWhileActive(tx, jobId, 'given new compute');
      return this.write(tx, jobId, { ...toJobDraft(job), compute: found.compute }, job.nextRunAt);
    });
    return this.view(row);
  }

  async get(id: string): Promise<JobView | null> {
    if (!isUuid(id)) return null;
    const row = await this.read(this.deps.sql, id);
    return row ? this.view(row) : null;
  }

  /** One query for all `ids`; the result follows their order, null where a job does not exist. */
  async getMany(ids: readonly string[]): Promise<(JobView | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows = valid.length
      ? await this.deps.sql.query<JobRow>(`select ${JOB_COLUMNS} from jobs where id = any($1::uuid[])`, [valid], 'jobwire_read_jobs')
      : [];
    const byId = new Map(rows.map((j) => [j.id, this.view(j)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * Jobs newest first (createdAt desc, id desc), filtered by status, tag, backend and a
   * case-insensitive substring of name or description. `first` defaults to 20 (at most
   * `limits.maxPageSize`); BAD_USER_INPUT on `first` or `after` when malformed.
   */
  async list(filter: JobFilter | null | undefined, page: PageArgs): Promise<Connection<JobView> & { totalCount: number }> {
    const limit = pageSize(page.first, this.deps.config.limits.maxPageSize);
    const after = decodeTimeCursor(page.after);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (n: number) => string, ...values: unknown[]) => {
      const n = params.length + 1;
      params.push(...values);
      where.push(sql(n));
    };
    if (filter?.status) add((n) => `status = $${n}`, filter.status);
    if (filter?.backend) add((n) => `backend = $${n}`, filter.backend);
    if (filter?.tag) add((n) => `tags @> $${n}::jsonb`, JSON.stringify([filter.tag]));
    if (filter?.search) {
      const like = `%${escapeLike(filter.search)}%`;
      add((n) => `(name ilike $${n} or description ilike $${n + 1})`, like, like);
    }
    const cond = (extra: string[]) => (extra.length ? `where ${extra.join(' and ')}` : '');
    const countSql = `select count(*)::int as n from jobs ${cond(where)}`;
    const countParams = [...params];
    if (after) add((n) => `(created_at, id) < ($${n}, $${n + 1})`, after.createdAt, after.id);
    params.push(limit + 1);
    const [rows, count] = await Promise.all([
      this.deps.sql.query<JobRow>(
        `select ${JOB_COLUMNS} from jobs ${cond(where)} order by created_at desc, id desc limit $${params.length}`,
        params,
      ),
      this.deps.sql.query<{ n: number }>(countSql, countParams),
    ]);
    const jobs = rows.map((r) => this.view(r));
    const conn = toConnection(jobs, limit, (j) => encodeTimeCursor({ createdAt: new Date(j.createdAt), id: j.id }));
    return { ...conn, totalCount: count[0].n };
  }

  computePresets(): ComputePresetView[] {
    return computePresets();
  }

  sourceTypes(): SourceTypeInfoView[] {
    return sourceTypes(this.deps.backends.all());
  }

  /**
   * What an external worker needs of a job to run it (a KAFKA `start` command): source (its secret
   * params left out), destination, processing and compute. NOT_FOUND for an unknown job.
   */
  async commandJob(jobId: string): Promise<CommandJob> {
    const row = isUuid(jobId) ? await this.read(this.deps.sql, jobId) : null;
    if (!row) throw notFound('Job', jobId);
    return {
      source: {
        type: row.source.type,
        params: withoutSecrets(row.source.params),
        filePattern: row.source.filePattern,
        schemaInference: row.source.schemaInference,
      },
      destination: row.destination,
      processing: row.processing,
      compute: { ...row.compute, sparkConf: row.compute.sparkConf ? withoutSecrets(row.compute.sparkConf) : null },
    };
  }

  /**
   * `preflightJob`: what can be checked of a job without starting it. `backend`: the backend is
   * configured here and its engine answers; `source`: the connection test, with the job's own
   * params (secrets included); then what the backend checks itself (SPARK: the compute maps to
   * Spark properties, the cluster has the cores and memory they ask for). `ok` when every check
   * passed. NOT_FOUND for an unknown job.
   */
  async preflight(jobId: string): Promise<PreflightResultView> {
    const row = isUuid(jobId) ? await this.read(this.deps.sql, jobId) : null;
    if (!row) throw notFound('Job', jobId);
    const checks: PreflightCheckView[] = [];
    const reason = this.deps.backends.unavailableReason(row.backend);
    const backend = this.deps.backends.get(row.backend);
    if (reason || !backend) checks.push({ name: 'backend', ok: false, message: reason ?? `no ${row.backend} backend in this gateway` });
    else if (!backend.preflight) checks.push({ name: 'backend', ok: true, message: `the ${row.backend} backend is configured here` });
    const source = await testSourceConnection(
      {
        type: row.source.type,
        params: row.source.params,
        filePattern: row.source.filePattern,
        schemaInference: row.source.schemaInference,
      },
      { logger: this.logger, access: this.access },
    ).catch((err) => ({ ok: false, message: coerceError(err).message }));
    checks.push({ name: 'source', ok: source.ok, message: source.message });
    if (!reason && backend?.preflight) checks.push(...(await backend.preflight({ compute: row.compute, processing: row.processing })));
    return { ok: checks.every((c) => c.ok), checks };
  }

  /**
   * A job as an engine inside jobwire's trust boundary needs it to execute (the SPARK backend hands
   * it to the driver in its environment): secrets included. Never returned by the API, logged or
   * published. NOT_FOUND for an unknown job.
   */
  async engineJob(jobId: string): Promise<EngineJob> {
    const row = isUuid(jobId) ? await this.read(this.deps.sql, jobId) : null;
    if (!row) throw notFound('Job', jobId);
    return { id: row.id, source: row.source, destination: row.destination, processing: row.processing, compute: row.compute };
  }

  /** See {@link testSourceConnection}: BAD_USER_INPUT for malformed params, `ok: false` for an unreachable source. */
  testSourceConnection(input: SourceConfigInput): Promise<ConnectionTestResultView> {
    return testSourceConnection(input, { logger: this.logger, access: this.access });
  }

  private async read(ex: SqlExecutor, id: string): Promise<JobRow | null> {
    const rows = await ex.query<JobRow>(`select ${JOB_COLUMNS} from jobs where id = $1`, [id], 'jobwire_read_job');
    return rows[0] ?? null;
  }

  /** The job, locked until the transaction ends (run creation takes the same lock, so checks hold). */
  private async lock(tx: SqlExecutor, id: string): Promise<JobRow> {
    const rows = isUuid(id)
      ? await tx.query<JobRow>(`select ${JOB_COLUMNS} from jobs where id = $1 for update`, [id], 'jobwire_lock_job_row')
      : [];
    if (!rows.length) throw notFound('Job', id);
    return rows[0];
  }

  private async write(tx: SqlExecutor, id: string, draft: JobDraft, nextRun: Date | null): Promise<JobRow> {
    const rows = await tx.query<JobRow>(
      `update jobs set (${WRITE_COLUMNS}, updated_at) = ($2, $3, $4::jsonb, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15)
       where id = $1 returning ${JOB_COLUMNS}`,
      [id, ...writeValues(draft, nextRun), this.now()],
    );
    return rows[0];
  }

  private async refuseWhileActive(tx: SqlExecutor, jobId: string, what: string): Promise<void> {
    const rows = await tx.query<{ id: string; number: number; status: string }>(
      `select id, number, status from runs where job_id = $1 and status in ${ACTIVE} limit 1`,
      [jobId],
    );
    if (rows.length) {
      const a = rows[0];
      throw conflict(`Job ${jobId} cannot be ${what} while run #${a.number} (${a.id}) is ${a.status}; stop it or wait until it ends`);
    }
  }
}
