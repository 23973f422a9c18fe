import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';

@ObjectType('PartitionLag', { simpleResolvers: true })
export class PartitionLag {
  @Field(() => String)
  topic!: string;

  @Field(() => Int)
  partition!: number;

  @Field(() => String, { nullable: true, description: 'Null until the group has committed on this partition' })
  committedOffset!: string | null;

  @Field(() => String)
  endOffset!: string;

  @Field(() => Int, { description: 'Records not yet consumed by the group' })
  lag!: number;
}

@ObjectType('IngestStatus', { simpleResolvers: true, description: 'The Kafka consumer group of the gateways, as a dashboard shows it' })
export class IngestStatus {
  @Field(() => Boolean, { description: 'Some replica consumes and none is paused (e.g. by its database being away)' })
  connected!: boolean;

  @Field(() => String)
  groupId!: string;

  @Field(() => [PartitionLag])
  partitions!: PartitionLag[];

  @Field(() => Int)
  totalLag!: number;

  @Field(() => Float, { description: 'Events applied per second over the last few seconds, by every replica' })
  appliedPerSecond!: number;

  @Field(() => Int)
  deadLettersPending!: number;

  @Field(() => DateTimeScalar)
  updatedAt!: string;
}
