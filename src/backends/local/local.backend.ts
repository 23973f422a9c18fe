import { ExecutionBackend } from '../../domain';
import type { Backend, Reconciliation } from '../backend';

/**
 * The LOCAL backend: runs execute in a gateway process (workers/local-executor). Submitting is a
 * no-op (the executor claims QUEUED runs from PostgreSQL) and so is cancelling (the executor sees
 * CANCELLING on its next heartbeat and aborts). Liveness is the executor's lease on the run.
 */
export function makeLocalBackend(): Backend {
  return {
    kind: ExecutionBackend.LOCAL,
    unavailableReason: () => null,
    submit: async () => undefined,
    cancel: async () => undefined,
    reconcile: async (run): Promise<Reconciliation> =>
      run.status === 'RUNNING' || run.status === 'CANCELLING'
        ? { state: 'lost', message: 'the gateway executing this LOCAL run stopped renewing its lease' }
        : { state: 'alive' },
  };
}
