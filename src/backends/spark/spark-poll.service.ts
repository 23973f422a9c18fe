import crypto from 'node:crypto';
import type { Sql } from '../../db/sql';
import { holdLease, releaseLease } from '../../db/worker-leases';
import { ExecutionBackend, LogLevel, RunStatus } from '../../domain';
import { coerceError } from '../../errors';
import type { Logger } from '../../logger';
import type { CoreEvent } from '../../runs/core-events';
import type { RunEventsService } from '../../runs/run-events.service';
import { driverLogLines, driverOutcome, jobwireLines, sparkUiUrl, type DriverOutcome } from './driver-state';
import { SparkRequestError, type MasterState, type SparkClient, type SparkDriver, type SparkStage } from './spark-client';
import { appName } from './spark-submission';

/** The lease only one replica holds: it alone asks the master, once per cycle for every replica's runs. */
export const SPARK_POLLER_LEASE = 'spark-poller';
/** A driver log is read at most this much per stream per cycle (the rest next cycle). */
const LOG_PAGE_BYTES = 256 * 1024;
/** What is kept of a driver's stderr to tell why it failed. */
const TAIL_BYTES = 64 * 1024;
/** The engine state a run shows while the master cannot be reached (its status is left as it was). */
export const MASTER_UNREACHABLE = 'MASTER_UNREACHABLE';

export interface SparkPollDeps {
  sql: Sql;
  runEvents: Pick<RunEventsService, 'applyBatch'>;
  client: SparkClient;
  logger: Logger;
  /** This replica (the lease's owner). */
  instanceId: string;
  /** The poll interval: the lease lives three of them. */
  intervalMs: number;
  /** At most this many requests per cycle to drivers and workers (stages, executors, logs), whatever the number of runs. */
  maxConcurrentPolls: number;
  /** Runs are stuck after this long without a sign of life: a poll that finds the driver alive says so before. */
  stuckThresholdMs: number;
  now?: () => Date;
}

/** What one cycle did (logged by the poller, asserted by tests and benches). */
export interface PollReport {
  /** False when another replica holds the lease (this one asked nothing). */
  leader: boolean;
  runs: number;
  /** Requests to the master (0 or 1) and to drivers and workers. */
  masterRequests: number;
  detailRequests: number;
  events: number;
  applied: number;
  /** Why the master could not be asked, or null. */
  masterError: string | null;
}

interface ActiveRun {
  id: string;
  attempt: number;
  jobId: string;
  status: RunStatus;
  externalId: string;
  engineState: string | null;
  aliveUntil: Date | null;
}

/** What the leader remembers of a run between cycles (lost on a change of leader: offsets are in PostgreSQL). */
interface Tracked {
  uiUrl: string | null;
  /** The application's id (the master lists it by name; its UI says it too). */
  appId: string | null;
  offsets: Record<'stderr' | 'stdout', number>;
  /** The end of stderr as read so far (why a driver failed is told there). */
  tail: string;
  /** Content keys of the last events sent: a repeated poll sends nothing. */
  sent: Map<string, string>;
  /** When its driver and logs were last read (ms): the longest unread go first. */
  lookedAt: number;
}

type Stream = 'stderr' | 'stdout';

/** A deterministic event id from what it reports: the same finding twice is one event. */
const eventId = (...parts: (string | number)[]) => `spark:${crypto.createHash('sha1').update(parts.join('\u0000')).digest('base64url')}`;

const STAGE_STATUS: Record<string, string> = {
  ACTIVE: 'RUNNING',
  COMPLETE: 'COMPLETED',
  FAILED: 'FAILED',
  PENDING: 'PENDING',
  SKIPPED: 'SKIPPED',
};

/** How stages are named in jobwire, pushed by the listener and polled alike: `stage <id>: <Spark's name>`. */
export const stageName = (stageId: number, name: string) => `stage ${stageId}: ${name}`.slice(0, 200);

/**
 * The SPARK poller's cycle, the safety net that always converges to Spark's own truth: one request
 * to the master for every active SPARK run of every replica (one replica polls at a time: a lease),
 * then, for running drivers, their stages and executors and their logs from the workers, at most
 * `maxConcurrentPolls` requests per cycle in all. Every finding becomes an event through the one apply path,
 * with an id derived from what it reports, so a repeated poll changes nothing and a stage count
 * pushed by the listener and polled here is never counted twice (counts are absolute). While the
 * master cannot be reached, runs are left as they are (their engineState says so).
 */
export class SparkPollService {
  private readonly tracked = new Map<string, Tracked>();
  private lastMasterError: string | null = null;
  private leader = false;

  constructor(private readonly deps: SparkPollDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** For /readyz: `ok`, or why the master cannot be reached (as the last cycle of this replica found). */
  readiness(): string {
    return this.lastMasterError ? `spark master unreachable: ${this.lastMasterError}` : 'ok';
  }

  /** Gives the lease up (this replica stops), so another polls at once. */
  async release(): Promise<void> {
    if (this.leader) await releaseLease(this.deps.sql, SPARK_POLLER_LEASE, this.deps.instanceId).catch(() => undefined);
    this.leader = false;
  }

  async pollOnce(): Promise<PollReport> {
    const report: PollReport = { leader: false, runs: 0, masterRequests: 0, detailRequests: 0, events: 0, applied: 0, masterError: null };
    const now = this.now();
    this.leader = await holdLease(this.deps.sql, SPARK_POLLER_LEASE, this.deps.instanceId, now, 3 * this.deps.intervalMs);
    if (!this.leader) {
      this.tracked.clear();
      this.lastMasterError = null;
      return report;
    }
    report.leader = true;
    const runs = await this.activeRuns();
    report.runs = runs.length;
    const activeIds = new Set(runs.map((r) => r.id));
    for (const id of this.tracked.keys()) if (!activeIds.has(id)) this.tracked.delete(id);
    let master: MasterState;
    try {
      report.masterRequests++;
      master = await this.deps.client.master();
      this.lastMasterError = null;
    } catch (err) {
      const message = coerceError(err).message;
      report.masterError = this.lastMasterError = message;
      const events = runs
        .filter((r) => r.engineState !== MASTER_UNREACHABLE)
        .map((r): CoreEvent => this.statusEvent(r, { status: r.status, engineState: MASTER_UNREACHABLE }, message));
      await this.apply(events, report);
      return report;
    }

    const drivers = new Map<string, SparkDriver>();
    for (const d of master.completeddrivers) drivers.set(d.id, d);
    for (const d of master.activedrivers) drivers.set(d.id, d);
    const apps = new Map([...master.completedapps, ...master.activeapps].map((a) => [a.name, a.id]));
    const workers = new Map(master.workers.map((w) => [w.id, w.webuiaddress]));

    const events: CoreEvent[] = [];
    const finished: ActiveRun[] = [];
    // Requests to drivers and workers share one budget per cycle, whatever the number of runs: runs
    // the master no longer lists first, then runs that just ended (their last log lines and why
    // they failed), then running ones, those looked at longest ago first. A run that does not fit
    // waits for a later cycle (the master's answer already carried its state).
    let budget = this.deps.maxConcurrentPolls;
    const spend = (n: number) => {
      // One unit always fits when nothing was spent yet, so a budget smaller than a unit still moves.
      if (budget < n && budget !== this.deps.maxConcurrentPolls) return false;
      budget -= n;
      report.detailRequests += n;
      return true;
    };
    const known: { run: ActiveRun; driver: SparkDriver; message: string | null }[] = [];
    const missing: ActiveRun[] = [];
    for (const run of runs) {
      const driver = drivers.get(run.externalId);
      if (driver) known.push({ run, driver, message: null });
      else missing.push(run);
    }
    await Promise.all(
      missing
        .filter(() => spend(1))
        .map(async (run) => {
          // Not in the master's lists (it keeps a bounded number of finished drivers): ask for this one.
          const s = await this.deps.client.status(run.externalId).catch(() => null);
          if (!s) return; // unanswered: next cycle
          known.push({
            run,
            driver: { id: run.externalId, state: s.success ? s.driverState : 'UNKNOWN', worker: s.workerId ?? undefined },
            message: s.message,
          });
        }),
    );
    const ending = (d: SparkDriver) => !['SUBMITTED', 'RUNNING', 'RELAUNCHING'].includes(d.state);
    known.sort((a, b) => Number(ending(b.driver)) - Number(ending(a.driver)) || this.track(a.run).lookedAt - this.track(b.run).lookedAt);
    const work: Promise<void>[] = [];
    for (const entry of known) {
      const { run, driver } = entry;
      let { message } = entry;
      const t = this.track(run);
      const workerUi = driver.worker ? workers.get(driver.worker) : undefined;
      const placed = driver.state !== 'SUBMITTED' && workerUi !== undefined;
      // An application may name itself (SparkSession.builder().appName): then its own UI says its id.
      t.appId ??= apps.get(appName(run.id, run.attempt)) ?? null;
      const withLogs = placed && spend(2 + (ending(driver) && !t.tail ? 2 : 0));
      if (ending(driver) && placed && !withLogs) continue; // its end is told once its log is read
      const withApp = !ending(driver) && t.uiUrl !== null && spend(t.appId ? 2 : 3);
      if (withLogs || withApp) t.lookedAt = Date.now();
      work.push(
        (async () => {
          const found: CoreEvent[] = [];
          if (withLogs) found.push(...(await this.readLogs(run, t, driver.id, workerUi!)));
          if (withLogs && ending(driver) && !t.tail) t.tail = await this.readTail(driver.id, workerUi!);
          if (driver.state === 'ERROR' && message === null && spend(1)) {
            message = (await this.deps.client.status(run.externalId).catch(() => null))?.message ?? null;
          }
          const outcome = driverOutcome(driver.state, { stopRequested: run.status === RunStatus.CANCELLING, stderr: t.tail, message });
          if (withApp && !t.appId) t.appId = (await this.deps.client.applications(t.uiUrl!).catch(() => []))[0]?.id ?? null;
          if (withApp && t.appId && outcome.status === RunStatus.RUNNING) found.push(...(await this.readApp(run, t, t.uiUrl!, t.appId)));
          if (outcome.status === RunStatus.SUCCEEDED) found.push(...this.resultMetrics(run, t));
          found.push(...this.stateEvents(run, outcome, now));
          events.push(...found);
          if ([RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED].includes(outcome.status)) finished.push(run);
        })(),
      );
    }
    await Promise.all(work);
    await this.apply(events, report);
    const ended = new Set(finished);
    await this.saveOffsets(runs.filter((r) => !ended.has(r)));
    if (finished.length) {
      await this.deps.sql.query('delete from engine_log_offsets where run_id = any($1::uuid[])', [finished.map((r) => r.id)]);
      for (const r of finished) this.tracked.delete(r.id);
    }
    return report;
  }

  private async apply(events: CoreEvent[], report: PollReport) {
    report.events += events.length;
    if (events.length === 0) return;
    const results = await this.deps.runEvents.applyBatch(events);
    report.applied += results.filter((r) => r.outcome === 'applied').length;
  }

  private track(run: ActiveRun): Tracked {
    let t = this.tracked.get(run.id);
    if (!t) {
      t = { uiUrl: null, appId: null, offsets: { stderr: -1, stdout: -1 }, tail: '', sent: new Map(), lookedAt: 0 };
      this.tracked.set(run.id, t);
    }
    return t;
  }

  /** The driver's status (and engine state), when it says something new; a heartbeat when its liveness runs low. */
  private stateEvents(run: ActiveRun, outcome: DriverOutcome, now: Date): CoreEvent[] {
    if (outcome.status !== run.status || outcome.engineState !== run.engineState) return [this.statusEvent(run, outcome)];
    if (run.aliveUntil && run.aliveUntil.getTime() - now.getTime() >= this.deps.stuckThresholdMs / 2) return [];
    // The driver was found where it should be: a sign of life, before the stuck monitor would wonder.
    return [
      {
        type: 'run.heartbeat',
        runId: run.id,
        attempt: run.attempt,
        producer: 'spark-poller',
        eventId: eventId(run.id, 'alive', now.getTime()),
        payload: {},
      },
    ];
  }

  private statusEvent(
    run: ActiveRun,
    o: Pick<DriverOutcome, 'status' | 'engineState'> & { error?: DriverOutcome['error'] },
    message?: string,
  ): CoreEvent {
    return {
      type: 'run.status',
      runId: run.id,
      attempt: run.attempt,
      producer: 'spark-poller',
      // From what to what: polled again before it is applied, the same change is one event; the same
      // state reached again later (RUNNING, master away, RUNNING) is a change of its own.
      eventId: eventId(
        run.id,
        run.attempt,
        'state',
        run.status,
        run.engineState ?? '',
        o.status,
        o.engineState,
        o.error?.message ?? '',
        message ?? '',
      ),
      payload: {
        status: o.status,
        engineState: o.engineState,
        externalId: run.externalId,
        ...(message ? { message } : {}),
        ...(o.error ? { error: { message: o.error.message, kind: o.error.kind, details: o.error.details } } : {}),
      },
    } as CoreEvent;
  }

  /** The rows jobwire's own application reports at its end (`JOBWIRE {"type":"result"}`), as the run's metrics. */
  private resultMetrics(run: ActiveRun, t: Tracked): CoreEvent[] {
    const result = jobwireLines(t.tail)
      .filter((l) => l.type === 'result')
      .pop();
    if (!result) return [];
    return [
      {
        type: 'run.metrics',
        runId: run.id,
        attempt: run.attempt,
        producer: 'spark-poller',
        eventId: eventId(run.id, run.attempt, 'result'),
        payload: {
          recordsProcessed: result.rowsWritten,
          recordsFailed: result.rowsFailed,
          throughputRps: 0,
          bytesProcessed: 0,
          activeWorkers: 0,
        },
      } as CoreEvent,
    ];
  }

  /**
   * New lines of the driver's stdout and stderr, from where the last read ended (kept in
   * PostgreSQL), one event per line with an id from where its page starts and its place in it: a
   * line read twice (a new leader, a crash before the offset was saved) is stored once.
   */
  private async readLogs(run: ActiveRun, t: Tracked, driverId: string, workerUi: string): Promise<CoreEvent[]> {
    if (t.offsets.stderr < 0) await this.loadOffsets(run, t);
    const events: CoreEvent[] = [];
    for (const stream of ['stderr', 'stdout'] as Stream[]) {
      const page = await this.deps.client.driverLog(workerUi, driverId, stream, t.offsets[stream], LOG_PAGE_BYTES).catch((err) => {
        if (!(err instanceof SparkRequestError)) throw err;
        return null;
      });
      if (!page || page.text.length === 0) continue;
      const start = page.from;
      const { lines, consumedBytes } = driverLogLines(page.text);
      if (stream === 'stderr') {
        t.tail = (t.tail + page.text).slice(-TAIL_BYTES);
        t.uiUrl ??= sparkUiUrl(page.text);
      }
      // Pages start where the last one ended (a line boundary) and the log only grows: the i-th line
      // of a page from one offset is always the same line, whoever reads it.
      lines.forEach((line, i) =>
        events.push({
          type: 'run.log',
          runId: run.id,
          attempt: run.attempt,
          producer: 'spark-poller',
          eventId: eventId(run.id, run.attempt, stream, start, i),
          payload: {
            lines: [
              { level: line.level as LogLevel, message: line.message, source: `driver ${stream}`, timestamp: line.timestamp ?? undefined },
            ],
          },
        } as CoreEvent),
      );
      t.offsets[stream] = start + consumedBytes;
    }
    return events;
  }

  /** The last bytes of a driver's stderr (why it failed), without storing them as log lines. */
  private async readTail(driverId: string, workerUi: string): Promise<string> {
    const head = await this.deps.client.driverLog(workerUi, driverId, 'stderr', 0, 0).catch(() => null);
    if (!head) return '';
    const from = Math.max(0, head.total - TAIL_BYTES);
    const page = await this.deps.client.driverLog(workerUi, driverId, 'stderr', from, TAIL_BYTES).catch(() => null);
    return page?.text ?? '';
  }

  /** Stages (absolute task counts) and executors of a running application, from its driver's REST API. */
  private async readApp(run: ActiveRun, t: Tracked, uiUrl: string, appId: string): Promise<CoreEvent[]> {
    const [stages, executors] = await Promise.all([
      this.deps.client.stages(uiUrl, appId).catch(() => null),
      this.deps.client.executors(uiUrl, appId).catch(() => null),
    ]);
    const events: CoreEvent[] = [];
    const latest = new Map<number, SparkStage>();
    for (const s of stages ?? []) {
      const seen = latest.get(s.stageId);
      if (!seen || s.attemptId > seen.attemptId) latest.set(s.stageId, s);
    }
    for (const s of latest.values()) {
      // Only stages Spark runs or ran: a PENDING one may yet be skipped, and a skipped one never runs.
      if (s.status === 'SKIPPED' || s.status === 'PENDING') continue;
      const payload = {
        stage: stageName(s.stageId, s.name),
        totalItems: s.numTasks,
        completedItems: s.numCompleteTasks,
        failedItems: s.numFailedTasks,
        status: STAGE_STATUS[s.status] ?? 'RUNNING',
      };
      const key = JSON.stringify(payload);
      if (t.sent.get(`stage:${s.stageId}`) === key) continue;
      t.sent.set(`stage:${s.stageId}`, key);
      events.push({
        type: 'stage.progress',
        runId: run.id,
        attempt: run.attempt,
        producer: 'spark-poller',
        eventId: eventId(run.id, run.attempt, key),
        payload,
      } as CoreEvent);
    }
    if (stages || executors) {
      const all = [...latest.values()];
      const payload = {
        recordsProcessed: all.reduce((a, s) => a + (s.inputRecords ?? 0), 0),
        recordsFailed: 0,
        throughputRps: 0,
        bytesProcessed: all.reduce((a, s) => a + (s.inputBytes ?? 0), 0),
        activeWorkers: (executors ?? []).filter((e) => e.id !== 'driver' && e.isActive).length,
      };
      const key = JSON.stringify(payload);
      if (t.sent.get('metrics') !== key) {
        t.sent.set('metrics', key);
        events.push({
          type: 'run.metrics',
          runId: run.id,
          attempt: run.attempt,
          producer: 'spark-poller',
          eventId: eventId(run.id, run.attempt, 'metrics', key),
          payload,
        } as CoreEvent);
      }
    }
    return events;
  }

  private async activeRuns(): Promise<ActiveRun[]> {
    return this.deps.sql.query<ActiveRun>(
      `select id, attempt, job_id as "jobId", status, external_id as "externalId", engine_state as "engineState", alive_until as "aliveUntil"
       from runs where backend = $1 and status = any($2::text[]) and external_id is not null`,
      [ExecutionBackend.SPARK, [RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING]],
      'jobwire_spark_active_runs',
    );
  }

  private async loadOffsets(run: ActiveRun, t: Tracked) {
    const rows = await this.deps.sql.query<{ stream: Stream; offset: string }>(
      'select stream, "offset"::text as "offset" from engine_log_offsets where run_id = $1 and attempt = $2',
      [run.id, run.attempt],
      'jobwire_engine_log_offsets',
    );
    t.offsets = { stderr: 0, stdout: 0 };
    for (const r of rows) t.offsets[r.stream] = Number(r.offset);
  }

  private async saveOffsets(runs: ActiveRun[]) {
    const rows = runs.flatMap((r) => {
      const t = this.tracked.get(r.id);
      if (!t || t.offsets.stderr < 0) return [];
      return (['stderr', 'stdout'] as Stream[]).map((stream) => ({ runId: r.id, attempt: r.attempt, stream, offset: t.offsets[stream] }));
    });
    if (rows.length === 0) return;
    await this.deps.sql.query(
      `insert into engine_log_offsets (run_id, attempt, stream, "offset", updated_at)
       select v."runId", v.attempt, v.stream, v."offset", $2 from json_to_recordset($1::json) as v("runId" uuid, attempt int, stream text, "offset" bigint)
       on conflict (run_id, attempt, stream) do update set "offset" = excluded."offset", updated_at = excluded.updated_at
       where engine_log_offsets."offset" is distinct from excluded."offset"`,
      [JSON.stringify(rows), this.now()],
      'jobwire_save_engine_log_offsets',
    );
  }
}
