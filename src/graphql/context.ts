import crypto from 'node:crypto';
import DataLoader from 'dataloader';
import type { IngestApi, JobsApi, RunsApi } from '../api';
import type { Principal } from '../auth/roles';
import type { JobView, MetricsView, RunView } from '../domain';
import type { Logger } from '../logger';
import type { LiveService } from '../live/live.service';

/** Per-request loaders: batch the N+1 lookups of list resolvers. */
export interface Loaders {
  /** `Run.job`: one `jobs.getMany` per tick. */
  job: DataLoader<string, JobView | null>;
  /** `Job.latestRun`: one `runs.getMany` per tick. */
  run: DataLoader<string, RunView | null>;
  /** `Run.metricsHistory`: one `runs.metricsHistory` per tick and distinct (`since`, `first`). */
  metricsHistory: DataLoader<MetricsHistoryKey, MetricsView[], string>;
}

/** One run's `metricsHistory` arguments. */
export interface MetricsHistoryKey {
  runId: string;
  since: Date | null;
  first: number | null;
}

const historyArgs = (k: MetricsHistoryKey) => `${k.since?.toISOString() ?? ''}|${k.first ?? ''}`;

/** Loads the keys of one tick: one call per distinct (`since`, `first`), each for all of its runs. */
async function loadMetricsHistory(runs: RunsApi, keys: readonly MetricsHistoryKey[]): Promise<(MetricsView[] | Error)[]> {
  const groups = new Map<string, MetricsHistoryKey[]>();
  for (const k of keys) {
    const g = groups.get(historyArgs(k));
    if (g) g.push(k);
    else groups.set(historyArgs(k), [k]);
  }
  const byKey = new Map<string, MetricsView[] | Error>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      try {
        const lists = await runs.metricsHistory(
          group.map((k) => k.runId),
          { since: group[0].since, first: group[0].first },
        );
        group.forEach((k, i) => byKey.set(`${historyArgs(k)}|${k.runId}`, lists[i]));
      } catch (err) {
        for (const k of group) byKey.set(`${historyArgs(k)}|${k.runId}`, err as Error);
      }
    }),
  );
  return keys.map((k) => byKey.get(`${historyArgs(k)}|${k.runId}`)!);
}

/** What every resolver receives. One per HTTP request, one per WebSocket operation. */
export interface GraphQLContext {
  /** Who is calling (authenticated before the operation was read; its role checked before it runs). */
  readonly principal: Principal;
  readonly jobs: JobsApi;
  readonly runs: RunsApi;
  /** Kafka ingestion: dead letters and the consumer group's status. */
  readonly ingest: IngestApi;
  /** The live streams (subscriptions). */
  readonly live: LiveService;
  /** A child logger bound to `requestId` (made on first use). */
  readonly logger: Logger;
  readonly requestId: string;
  /** Made on first use: most operations (every subscription) never load through them. */
  readonly loaders: Loaders;
}

export interface ContextDeps {
  jobs: JobsApi;
  runs: RunsApi;
  ingest: IngestApi;
  live: LiveService;
  logger: Logger;
}

export interface ContextRequest {
  /** The caller, as the transport authenticated it (HTTP: per request; WebSocket: at `connection_init`). */
  principal: Principal;
  /** The caller's id (x-request-id) or a fresh uuid when absent. */
  requestId?: string;
  /** `http`: loaders cache for the request; `ws`: they only batch (a subscription lives long). */
  transport: 'http' | 'ws';
}

export type ContextFactory = (req: ContextRequest) => GraphQLContext;

/** A request id: the caller's when it looks sane (printable, ≤ 128 chars), otherwise a new uuid. */
export function requestIdFrom(header: unknown): string {
  const v = Array.isArray(header) ? header[0] : header;
  return typeof v === 'string' && /^[\w.:\-/]{1,128}$/.test(v) ? v : crypto.randomUUID();
}

/**
 * One request's context. It holds four fields; the logger child and the loaders are made when a
 * resolver first asks for them, so a request that needs neither (most do not, and no subscription
 * does) pays for neither, and a thousand open subscriptions hold a thousand small objects.
 */
class RequestContext implements GraphQLContext {
  private ownLogger?: Logger;
  private ownLoaders?: Loaders;

  constructor(
    private readonly deps: ContextDeps,
    readonly requestId: string,
    private readonly cacheLoads: boolean,
    readonly principal: Principal,
  ) {}

  get jobs(): JobsApi {
    return this.deps.jobs;
  }

  get runs(): RunsApi {
    return this.deps.runs;
  }

  get ingest(): IngestApi {
    return this.deps.ingest;
  }

  get live(): LiveService {
    return this.deps.live;
  }

  get logger(): Logger {
    return (this.ownLogger ??= this.deps.logger.child({ requestId: this.requestId }));
  }

  get loaders(): Loaders {
    const { jobs, runs } = this.deps;
    return (this.ownLoaders ??= {
      job: new DataLoader((ids) => jobs.getMany(ids), { cache: this.cacheLoads }),
      run: new DataLoader((ids) => runs.getMany(ids), { cache: this.cacheLoads }),
      metricsHistory: new DataLoader((keys) => loadMetricsHistory(runs, keys), {
        cache: this.cacheLoads,
        cacheKeyFn: (k) => `${historyArgs(k)}|${k.runId}`,
      }),
    });
  }
}

/**
 * Builds the context factory once per process; the HTTP server calls it per request and the
 * WebSocket server per operation. Over HTTP a loader loads a key at most once per request; over the
 * WebSocket it only batches the loads of one tick (a cached job would go stale in a long-lived
 * subscription).
 */
export function makeContextFactory(deps: ContextDeps): ContextFactory {
  return (req) => new RequestContext(deps, req.requestId ?? crypto.randomUUID(), req.transport === 'http', req.principal);
}
