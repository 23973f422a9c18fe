import {
  DataFormat,
  ProcessingMode,
  RunStatus,
  SourceType,
  type ComputeConfig,
  type ExecutionBackend,
  type ProcessingConfig,
  type RunView,
} from '../domain';
import type { BackendPolicy, Liveness } from '../runs/run-apply';

export type { BackendPolicy, Liveness };

/** What the stuck monitor learns when it asks a backend about a run that went silent. */
export type Reconciliation =
  | { state: 'alive' }
  | { state: 'lost'; message: string }
  | { state: 'finished'; status: RunStatus.SUCCEEDED | RunStatus.FAILED | RunStatus.CANCELLED; message?: string };

/** One check of `preflightJob`: its name, whether it passed, and why (or what it found). */
export interface PreflightCheckView {
  name: string;
  ok: boolean;
  message: string;
}

/** One source type a backend can execute, with the formats and processing modes it reads it in. */
export interface SourceCapability {
  type: SourceType;
  formats: DataFormat[];
  modes: ProcessingMode[];
}

/** What the engine handed back when it accepted a run; applied to the run as an event. */
export interface Submission {
  /** The engine's id for the run (a Spark driver id …). */
  externalId?: string;
  /** The engine's own state word, as it came (SUBMITTED …). */
  engineState?: string;
  /** The status the run has now in jobwire's terms, when the engine says (QUEUED once accepted …). */
  status?: RunStatus.QUEUED | RunStatus.RUNNING;
}

/**
 * An execution backend (LOCAL, SPARK, KAFKA) behind one interface. It says what the core would
 * otherwise hard-code — the status a new run starts in and how its runs' liveness is judged
 * (`policy`), what it can execute (`sources`) — and talks to its engine. Backends never write run
 * state: what they learn goes back through the run-event service like everything else.
 */
export interface Backend {
  readonly kind: ExecutionBackend;
  readonly policy: BackendPolicy;
  /** The source types it can execute, and how. A job whose source is not among them is refused at create. */
  readonly sources: readonly SourceCapability[];
  /** Null when usable here; otherwise why not (e.g. "SPARK_MASTER_URL is not set"). */
  unavailableReason(): string | null;
  /** Hands a new or retried attempt to the engine. Rejects when the engine refuses (the attempt then fails TRANSIENT). */
  submit(run: RunView): Promise<Submission>;
  /** Asks the engine to stop a run; the run ends CANCELLED when the engine confirms. */
  cancel(run: RunView): Promise<void>;
  /** Asks the engine whether a run that has gone silent is still alive. */
  reconcile(run: RunView): Promise<Reconciliation>;
  /**
   * What the backend can check of a job without starting it (its engine answers, the job's compute
   * maps, the engine has the capacity it asks for). Absent: only `unavailableReason` is checked.
   */
  preflight?(job: { compute: ComputeConfig; processing: ProcessingConfig }): Promise<PreflightCheckView[]>;
}

/** The backends of this gateway, by kind. */
export class BackendRegistry {
  private readonly byKind = new Map<ExecutionBackend, Backend>();

  constructor(backends: Backend[]) {
    for (const b of backends) this.byKind.set(b.kind, b);
  }

  get(kind: ExecutionBackend): Backend | undefined {
    return this.byKind.get(kind);
  }

  all(): Backend[] {
    return [...this.byKind.values()];
  }

  /** Null when `kind` can run here, else the reason it cannot. */
  unavailableReason(kind: ExecutionBackend): string | null {
    const b = this.byKind.get(kind);
    return b ? b.unavailableReason() : `the ${kind} backend is not part of this gateway`;
  }

  /** The policy the core applies to `kind`'s runs. Throws for a backend this gateway does not have. */
  policy(kind: ExecutionBackend): BackendPolicy {
    const b = this.byKind.get(kind);
    if (!b) throw new Error(`no ${kind} backend in this gateway`);
    return b.policy;
  }
}

/** Formats of files the LOCAL ingestion engine reads. */
export const ENGINE_FORMATS = [DataFormat.AUTO, DataFormat.CSV, DataFormat.JSON, DataFormat.NDJSON];
/** What the LOCAL ingestion engine executes: LOCAL and HTTP files, in batch. */
export const ENGINE_SOURCES: readonly SourceCapability[] = [
  { type: SourceType.LOCAL, formats: ENGINE_FORMATS, modes: [ProcessingMode.BATCH] },
  { type: SourceType.HTTP, formats: ENGINE_FORMATS, modes: [ProcessingMode.BATCH] },
];

/**
 * What jobwire's Spark application executes (the SPARK backend): LOCAL paths the cluster can read,
 * in every file format, and PostgreSQL tables or queries over JDBC, in batch.
 */
export const SPARK_SOURCES: readonly SourceCapability[] = [
  { type: SourceType.LOCAL, formats: [...ENGINE_FORMATS, DataFormat.PARQUET], modes: [ProcessingMode.BATCH] },
  { type: SourceType.POSTGRES, formats: [DataFormat.AUTO], modes: [ProcessingMode.BATCH] },
];

/**
 * A backend that is not configured in this deployment: jobs for it can be created (checked against
 * what it executes once configured), starting them answers UNAVAILABLE.
 */
export function unconfiguredBackend(
  kind: ExecutionBackend,
  reason: string,
  policy: BackendPolicy,
  sources: readonly SourceCapability[],
): Backend {
  const fail = async (): Promise<never> => {
    throw new Error(`${kind} backend unavailable: ${reason}`);
  };
  return { kind, policy, sources, unavailableReason: () => reason, submit: fail, cancel: fail, reconcile: fail };
}

export { RunStatus };
