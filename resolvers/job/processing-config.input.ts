import { Field, InputType, Int } from 'type-graphql';
import { DataFormat, ProcessingMode } from '../enums';
import { SparkApplicationInput } from './spark-application.type';

@InputType('ProcessingConfigInput')
export class ProcessingConfigInput {
  @Field(() => ProcessingMode, { nullable: true, defaultValue: ProcessingMode.BATCH })
  mode?: ProcessingMode | null;

  @Field(() => DataFormat, { nullable: true, defaultValue: DataFormat.AUTO })
  format?: DataFormat | null;

  @Field(() => Int, { nullable: true, defaultValue: 10000 })
  batchSize?: number | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  checkpointEnabled?: boolean | null;

  @Field(() => Int, { nullable: true })
  watermarkSeconds?: number | null;

  @Field(() => Int, { nullable: true })
  triggerIntervalSeconds?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Upper bound on rows written per second by the LOCAL executor, to spare a busy destination',
  })
  maxRowsPerSecond?: number | null;

  @Field(() => SparkApplicationInput, {
    nullable: true,
    description: "SPARK only: run this application instead of jobwire's built-in ingestion",
  })
  sparkApplication?: SparkApplicationInput | null;
}
