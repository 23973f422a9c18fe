import { Field, Int, ObjectType } from 'type-graphql';
import { JSONScalar } from '../scalars';

@ObjectType('ConnectionTestResult', { simpleResolvers: true })
export class ConnectionTestResult {
  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => String)
  message!: string;

  @Field(() => Int, { nullable: true })
  latencyMs!: number | null;

  @Field(() => JSONScalar, { nullable: true })
  sampleSchema!: unknown;
}
