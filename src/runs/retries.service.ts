import { RETRY_POLICY_ACTOR } from '../auth/actors';
import type { BackendRegistry } from '../backends/backend';
import type { Sql } from '../db/sql';
import type { RunView } from '../domain';
import type { Logger } from '../logger';
import { findDueRetries } from './run-queries';
import type { RunEventsService } from './run-events.service';
import { submitRun } from './submit-run';

export interface RetriesDeps {
  sql: Sql;
  runEvents: RunEventsService;
  backends: BackendRegistry;
  logger: Logger;
  now?: () => Date;
}

/**
 * Automatic retries: the next attempt of every FAILED run whose back-off has run out. Due runs are
 * found with one index range scan and started in one transaction; with several gateways each
 * retry starts once (a run already started is refused by the rules, not by luck).
 */
export class RetriesService {
  constructor(private readonly deps: RetriesDeps) {}

  /** Starts up to `limit` due retries and hands them to their backends; returns the runs started. */
  async startDue(limit: number, producer?: string): Promise<RunView[]> {
    const ids = await findDueRetries(this.deps.sql, this.deps.now?.() ?? new Date(), limit);
    if (ids.length === 0) return [];
    const results = await this.deps.runEvents.applyBatch(
      ids.map((runId) => ({ runId, type: 'run.retry', producer, payload: { manual: false, actor: RETRY_POLICY_ACTOR } })),
    );
    const started = results.filter((r) => r.outcome === 'applied').map((r) => r.run!);
    const out: RunView[] = [];
    for (const run of started) {
      this.deps.logger.info({ runId: run.id, attempt: run.attempt }, `retries: started attempt ${run.attempt} of run ${run.id}`);
      out.push(await submitRun(this.deps, run, producer));
    }
    return out;
  }
}
