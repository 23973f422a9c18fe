import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ComputePresetView, ConnectionTestResultView, JobsApi, SourceTypeInfoView } from '../api';
import type { Config } from '../config';
import { JobEntity, RunEntity } from '../db/entities';
import type { Orm } from '../db/orm';
import { ACTIVE_RUN_STATUSES, type JobView } from '../domain';
import { badInput, conflict, notFound } from '../errors';
import type { Logger } from '../logger';
import { decodeTimeCursor, encodeTimeCursor, escapeLike, isUuid, pageSize, toConnection } from '../pagination';
import { testSourceConnection } from './connection-test';
import { checkLocalRoots } from './local-roots';
import { nextRunAt } from './cron';
import type { ComputeConfigInput, Connection, CreateJobInput, JobFilter, PageArgs, SourceConfigInput, UpdateJobInput } from './job-input';
import { validateCompute, validateCreateJob, validateJobUpdate } from './job-validation';
import { toJobDraft, toJobView } from './job-view';
import { computePresets, findPreset, presetNames } from './presets';
import { sourceTypes } from './source-types';

export interface JobsServiceDeps {
  orm: Orm;
  config: Readonly<Config>;
  logger: Logger;
  now?: () => Date;
}

/**
 * Job definitions: create, change, delete, list. Every input is validated in full before anything
 * is written, and every write is one transaction. Every JobView returned has its secrets masked.
 */
export class JobsService implements JobsApi {
  private readonly logger: Logger;

  /** `logger` should carry the component (`component: 'jobs'`): the composition root binds it. */
  constructor(private readonly deps: JobsServiceDeps) {
    this.logger = deps.logger;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private em(): EntityManager {
    return this.deps.orm.em.fork() as EntityManager;
  }

  /** Creates a job; BAD_USER_INPUT (nothing written) when any field is invalid. */
  async create(input: CreateJobInput): Promise<JobView> {
    const draft = validateCreateJob(input, this.deps.config.retryMaxAttempts);
    checkLocalRoots(draft.source, this.deps.config.localSourceRoots, 'input.source.params.path');
    const now = this.now();
    const em = this.em();
    const job = em.create(JobEntity, {
      ...draft,
      nextRunAt: draft.schedule ? nextRunAt(draft.schedule, now) : null,
      createdAt: now,
      updatedAt: now,
    });
    await em.flush();
    this.logger.info({ jobId: job.id, backend: job.backend, sourceType: job.source.type }, 'job created');
    return toJobView(job);
  }

  /**
   * Changes the fields given; absent ones stay. `schedule: null` removes the schedule; a given
   * schedule recomputes `nextRunAt`. Source params sent back masked (`"***"`) keep the stored secret.
   * Changing `source`, `destination` or `processing` while a run is active is allowed: the active
   * run keeps what it started with, the change applies from the next run.
   * NOT_FOUND for an unknown id; BAD_USER_INPUT (nothing written) for invalid input.
   */
  async update(id: string, input: UpdateJobInput): Promise<JobView> {
    return this.em().transactional(async (em) => {
      const job = await this.lockJob(em, id);
      const draft = validateJobUpdate(input, toJobDraft(job));
      if (input.source) checkLocalRoots(draft.source, this.deps.config.localSourceRoots, 'input.source.params.path');
      Object.assign(job, draft);
      if (input.schedule !== undefined) job.nextRunAt = draft.schedule ? nextRunAt(draft.schedule, this.now()) : null;
      job.updatedAt = this.now();
      await em.flush();
      return toJobView(job);
    });
  }

  /**
   * Deletes a job with its runs, stages, log lines, metric samples and idempotency keys, in one
   * transaction. CONFLICT while a run is active; NOT_FOUND for an unknown id.
   */
  async delete(id: string): Promise<boolean> {
    await this.em().transactional(async (em) => {
      await this.lockJob(em, id);
      await this.refuseWhileActive(em, id, 'deleted');
      const runs = `select id from runs where job_id = ?`;
      await em.execute(`delete from run_logs where run_id in (${runs})`, [id]);
      await em.execute(`delete from run_stages where run_id in (${runs})`, [id]);
      await em.execute(`delete from run_metric_samples where run_id in (${runs})`, [id]);
      await em.execute('delete from idempotency_keys where job_id = ?', [id]);
      await em.execute('delete from runs where job_id = ?', [id]);
      await em.execute('delete from jobs where id = ?', [id]);
    });
    this.logger.info({ jobId: id }, 'job deleted');
    return true;
  }

  /** Merges `input` into the job's compute. CONFLICT while a run is active. */
  async updateCompute(jobId: string, input: ComputeConfigInput): Promise<JobView> {
    return this.em().transactional(async (em) => {
      const job = await this.lockJob(em, jobId);
      const compute = validateCompute(input, structuredClone(job.compute), 'input');
      await this.refuseWhileActive(em, jobId, 'given new compute');
      job.compute = compute;
      job.updatedAt = this.now();
      await em.flush();
      return toJobView(job);
    });
  }

  /** Replaces the job's compute with a preset's. BAD_USER_INPUT (`preset`) for an unknown name; CONFLICT while a run is active. */
  async applyComputePreset(jobId: string, preset: string): Promise<JobView> {
    const found = findPreset(preset);
    if (!found) throw badInput('preset', `unknown preset ${JSON.stringify(preset)}; one of ${presetNames().join(', ')}`);
    return this.em().transactional(async (em) => {
      const job = await this.lockJob(em, jobId);
      await this.refuseWhileActive(em, jobId, 'given new compute');
      job.compute = found.compute;
      job.updatedAt = this.now();
      await em.flush();
      return toJobView(job);
    });
  }

  async get(id: string): Promise<JobView | null> {
    if (!isUuid(id)) return null;
    const job = await this.em().findOne(JobEntity, { id });
    return job ? toJobView(job) : null;
  }

  /** One query for all `ids`; the result follows their order, null where a job does not exist. */
  async getMany(ids: readonly string[]): Promise<(JobView | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const jobs = valid.length ? await this.em().find(JobEntity, { id: { $in: valid } }) : [];
    const byId = new Map(jobs.map((j) => [j.id, toJobView(j)]));
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
    const add = (sql: string, ...values: unknown[]) => {
      where.push(sql);
      params.push(...values);
    };
    if (filter?.status) add('status = ?', filter.status);
    if (filter?.backend) add('backend = ?', filter.backend);
    // `@>` rather than `?`: same meaning for a list of strings, and `?` is the driver's placeholder.
    if (filter?.tag) add('tags @> ?::jsonb', JSON.stringify([filter.tag]));
    if (filter?.search) {
      const like = `%${escapeLike(filter.search)}%`;
      add('(name ilike ? or description ilike ?)', like, like);
    }
    const em = this.em();
    const cond = (extra: string[]) => (extra.length ? `where ${extra.join(' and ')}` : '');
    const pageWhere = after ? [...where, '(created_at, id) < (?, ?)'] : where;
    const pageParams = after ? [...params, after.createdAt, after.id] : params;
    const [rows, count] = await Promise.all([
      em.execute(`select * from jobs ${cond(pageWhere)} order by created_at desc, id desc limit ?`, [...pageParams, limit + 1]),
      em.execute<{ n: number }[]>(`select count(*)::int as n from jobs ${cond(where)}`, params),
    ]);
    const jobs = rows.map((r) => toJobView(em.map(JobEntity, r)));
    const conn = toConnection(jobs, limit, (j) => encodeTimeCursor({ createdAt: new Date(j.createdAt), id: j.id }));
    return { ...conn, totalCount: count[0].n };
  }

  computePresets(): ComputePresetView[] {
    return computePresets();
  }

  sourceTypes(): SourceTypeInfoView[] {
    return sourceTypes();
  }

  /** See {@link testSourceConnection}: BAD_USER_INPUT for malformed params, `ok: false` for an unreachable source. */
  testSourceConnection(input: SourceConfigInput): Promise<ConnectionTestResultView> {
    return testSourceConnection(input, { logger: this.logger, localSourceRoots: this.deps.config.localSourceRoots });
  }

  /** The job, locked until the transaction ends (createRun takes the same lock, so checks hold). */
  private async lockJob(em: EntityManager, id: string): Promise<JobEntity> {
    const job = isUuid(id) ? await em.findOne(JobEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!job) throw notFound('Job', id);
    return job;
  }

  private async refuseWhileActive(em: EntityManager, jobId: string, what: string): Promise<void> {
    const active = await em.findOne(
      RunEntity,
      { jobId, status: { $in: [...ACTIVE_RUN_STATUSES] } },
      { fields: ['id', 'number', 'status'] },
    );
    if (active) {
      throw conflict(
        `Job ${jobId} cannot be ${what} while run #${active.number} (${active.id}) is ${active.status}; stop it or wait until it ends`,
      );
    }
  }
}
