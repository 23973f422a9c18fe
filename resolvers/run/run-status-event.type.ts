import { Field, ObjectType } from 'type-graphql';
import { Run } from './run.type';

/** A `runEvents` message: the run as it stands after a change (status, progress, error, attempts …). */
@ObjectType('RunStatusEvent', { simpleResolvers: true })
export class RunStatusEvent {
  @Field(() => String, { description: 'Strictly increasing per run across every kind of RunEvent; resume with `after: cursor`' })
  cursor!: string;

  @Field(() => Run)
  run!: Run;
}
