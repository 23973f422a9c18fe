import type { ExecutionBackend, RunView } from '../domain';

/** What the stuck monitor learns when it asks a backend about a silent run. */
export type Reconciliation =
  | { state: 'alive' }
  | { state: 'lost'; message: string }
  | { state: 'finished'; status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; message?: string };

/**
 * An execution backend (LOCAL, SPARK, KAFKA) behind one interface. Backends never write run state:
 * what they learn goes back through the run-event service like everything else.
 */
export interface Backend {
  readonly kind: ExecutionBackend;
  /** Null when usable here; otherwise why not (e.g. "SPARK_MASTER_URL is not set"). */
  unavailableReason(): string | null;
  /** Hands a new or retried run to the engine. LOCAL: nothing to do, the executor claims it. */
  submit(run: RunView): Promise<void>;
  /** Asks the engine to stop a run; the run ends CANCELLED when the engine confirms. */
  cancel(run: RunView): Promise<void>;
  /** Asks the engine whether a run that has gone silent is still alive. */
  reconcile(run: RunView): Promise<Reconciliation>;
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

  /** Null when `kind` can run here, else the reason it cannot. */
  unavailableReason(kind: ExecutionBackend): string | null {
    const b = this.byKind.get(kind);
    return b ? b.unavailableReason() : `the ${kind} backend is not part of this gateway`;
  }
}

/** A backend that is not configured in this deployment: creating jobs works, starting them does not. */
export function unconfiguredBackend(kind: ExecutionBackend, reason: string): Backend {
  const fail = async () => {
    throw new Error(`${kind} backend unavailable: ${reason}`);
  };
  return { kind, unavailableReason: () => reason, submit: fail, cancel: fail, reconcile: fail };
}
