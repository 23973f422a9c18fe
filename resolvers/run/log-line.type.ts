import { Field, ID, Int, ObjectType } from 'type-graphql';
import { LogLevel } from '../enums';
import { DateTimeScalar } from '../scalars';

@ObjectType('LogLine', { simpleResolvers: true })
export class LogLine {
  @Field(() => String, { description: 'Per-run, strictly increasing; usable as a resume cursor' })
  seq!: string;

  @Field(() => ID)
  runId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => DateTimeScalar)
  timestamp!: string;

  @Field(() => LogLevel)
  level!: LogLevel;

  @Field(() => String)
  message!: string;

  @Field(() => String, { nullable: true })
  source!: string | null;
}
