import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DeadLetterStatus } from '../enums';
import { DateTimeScalar, JSONScalar } from '../scalars';

@ObjectType('DeadLetter', {
  simpleResolvers: true,
  description: 'A Kafka record that could not be applied, kept until replayed or discarded',
})
export class DeadLetter {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  topic!: string;

  @Field(() => Int)
  partition!: number;

  @Field(() => String, { description: 'The record offset (a decimal string: Kafka offsets are 64-bit)' })
  offset!: string;

  @Field(() => String, { nullable: true })
  key!: string | null;

  @Field(() => String, { nullable: true, description: 'When the message had one' })
  eventId!: string | null;

  @Field(() => ID, { nullable: true, description: 'When the message named one' })
  runId!: string | null;

  @Field(() => String, { description: 'Why it could not be applied' })
  reason!: string;

  @Field(() => JSONScalar, { description: 'The message as received, every secret replaced by "***"' })
  payload!: unknown;

  @Field(() => DeadLetterStatus)
  status!: DeadLetterStatus;

  @Field(() => Int, { description: 'How many times the record was delivered and refused' })
  timesSeen!: number;

  @Field(() => DateTimeScalar)
  firstSeenAt!: string;

  @Field(() => DateTimeScalar)
  lastSeenAt!: string;
}
