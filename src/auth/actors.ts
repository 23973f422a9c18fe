/**
 * The audit names of what acts without a caller (RunAttempt.triggeredBy, Run.stoppedBy). A caller
 * is named by its principal's subject (src/auth/roles.ts).
 */

/** Who started the first attempt of a run its job's cron schedule fired. */
export const SCHEDULER_ACTOR = 'scheduler';
/** Who started an automatic retry. */
export const RETRY_POLICY_ACTOR = 'retry-policy';
/** Who stopped a run that stalled with `onStall: STOP`. */
export const STALL_POLICY_ACTOR = 'stall-policy';
