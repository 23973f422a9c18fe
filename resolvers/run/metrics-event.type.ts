import { Field, ObjectType } from 'type-graphql';
import { RunMetrics } from './run-metrics.type';

/** A `runEvents` message: the run's latest metric sample. */
@ObjectType('MetricsEvent', { simpleResolvers: true })
export class MetricsEvent {
  @Field(() => String, { description: 'Strictly increasing per run across every kind of RunEvent; resume with `after: cursor`' })
  cursor!: string;

  @Field(() => RunMetrics)
  metrics!: RunMetrics;
}
