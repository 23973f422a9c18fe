import { Field, Int, ObjectType } from 'type-graphql';
import { DataFormat, ProcessingMode } from '../enums';
import { SparkApplication } from './spark-application.type';

@ObjectType('ProcessingConfig', { simpleResolvers: true })
export class ProcessingConfig {
  @Field(() => ProcessingMode)
  mode!: ProcessingMode;

  @Field(() => DataFormat)
  format!: DataFormat;

  @Field(() => Int)
  batchSize!: number;

  @Field(() => Boolean)
  checkpointEnabled!: boolean;

  @Field(() => Int, { nullable: true })
  watermarkSeconds!: number | null;

  @Field(() => Int, { nullable: true })
  triggerIntervalSeconds!: number | null;

  @Field(() => Int, { nullable: true, description: 'Upper bound on rows written per second by the LOCAL executor; null: no limit' })
  maxRowsPerSecond!: number | null;

  @Field(() => SparkApplication, { nullable: true, description: "SPARK: a user's own application; null: jobwire's built-in ingestion" })
  sparkApplication!: SparkApplication | null;
}
