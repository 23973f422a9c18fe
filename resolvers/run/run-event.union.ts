import { createUnionType } from 'type-graphql';
import type { RunEventView } from '../../src/live/live.service';
import { LogEvent } from './log-event.type';
import { MetricsEvent } from './metrics-event.type';
import { RunStatusEvent } from './run-status-event.type';
import { StageEvent } from './stage-event.type';

/** One `runEvents` message; the view's `kind` names its member. */
export const RunEvent = createUnionType({
  name: 'RunEvent',
  description: "A run's status, stage, metric or log change; every message carries one cursor, strictly increasing per run",
  types: () => [RunStatusEvent, StageEvent, MetricsEvent, LogEvent] as const,
  resolveType: (value) => (value as unknown as RunEventView).kind,
});
