import { Field, Float, Int, ObjectType } from 'type-graphql';
import { StageStatus } from '../enums';
import { DateTimeScalar } from '../scalars';

@ObjectType('Stage', { simpleResolvers: true })
export class Stage {
  @Field(() => String)
  name!: string;

  @Field(() => StageStatus)
  status!: StageStatus;

  @Field(() => Int)
  totalItems!: number;

  @Field(() => Int)
  completedItems!: number;

  @Field(() => Int)
  failedItems!: number;

  @Field(() => Float, { description: '0..1; never moves backwards within an attempt' })
  progress!: number;

  @Field(() => Boolean, { description: 'totalItems is an estimate (e.g. from bytes read so far) that may still be corrected' })
  totalIsEstimate!: boolean;

  @Field(() => String, { nullable: true })
  message!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: string | null;

  @Field(() => DateTimeScalar)
  updatedAt!: string;
}
