import { Field, ObjectType } from 'type-graphql';
import { ErrorKind } from '../enums';

@ObjectType('RunError', { simpleResolvers: true })
export class RunError {
  @Field(() => String)
  message!: string;

  @Field(() => ErrorKind, { description: 'TRANSIENT errors are retried automatically; PERMANENT ones are not' })
  kind!: ErrorKind;

  @Field(() => String, { nullable: true })
  details!: string | null;
}
