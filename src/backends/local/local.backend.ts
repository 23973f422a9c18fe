import { ExecutionBackend, RunStatus } from '../../domain';
import { DEFAULT_POLICIES } from '../../runs/run-apply';
import { ENGINE_SOURCES, type Backend, type Reconciliation } from '../backend';

/**
 * The LOCAL backend: runs wait QUEUED in jobwire's own queue and execute in a gateway process
 * (workers/local-executor, through the local-queue service). Submitting hands nothing to an engine
 * (an executor claims the run) and cancelling needs nothing (the executor sees CANCELLING and
 * aborts). Liveness is the executor's lease on the run: a run whose lease ran out was lost with
 * its gateway.
 */
export function makeLocalBackend(): Backend {
  return {
    kind: ExecutionBackend.LOCAL,
    policy: DEFAULT_POLICIES.LOCAL,
    sources: ENGINE_SOURCES,
    unavailableReason: () => null,
    submit: async () => ({}),
    cancel: async () => undefined,
    reconcile: async (run): Promise<Reconciliation> =>
      run.status === RunStatus.RUNNING || run.status === RunStatus.CANCELLING
        ? { state: 'lost', message: 'the gateway executing this LOCAL run stopped renewing its lease' }
        : { state: 'alive' },
  };
}
