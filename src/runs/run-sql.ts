import { ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES } from '../domain';

/** A SQL list literal of fixed words, e.g. `('A', 'B')`. Only for constants: never for input. */
export const sqlList = (words: readonly string[]): string => `(${words.map((w) => `'${w}'`).join(', ')})`;

/**
 * The active statuses, spelled exactly as in the predicate of `runs_active_updated_idx` (same
 * order): the planner uses a partial index only when it can prove the query implies its predicate.
 */
export const ACTIVE_SQL = sqlList(ACTIVE_RUN_STATUSES);
export const TERMINAL_SQL = sqlList(TERMINAL_RUN_STATUSES);
