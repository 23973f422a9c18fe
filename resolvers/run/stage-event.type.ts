import { Field, ObjectType } from 'type-graphql';
import { Stage } from './stage.type';

/** A `runEvents` message: one stage as it stands after a change. */
@ObjectType('StageEvent', { simpleResolvers: true })
export class StageEvent {
  @Field(() => String, { description: 'Strictly increasing per run across every kind of RunEvent; resume with `after: cursor`' })
  cursor!: string;

  @Field(() => Stage)
  stage!: Stage;
}
