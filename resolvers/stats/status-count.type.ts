import { Field, Int, ObjectType } from 'type-graphql';
import { RunStatus } from '../enums';

@ObjectType('StatusCount', { simpleResolvers: true })
export class StatusCount {
  @Field(() => RunStatus)
  status!: RunStatus;

  @Field(() => Int)
  count!: number;
}
