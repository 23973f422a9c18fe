import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType('SparkApplication', {
  simpleResolvers: true,
  description: "A user's own Spark application, run instead of jobwire's built-in ingestion",
})
export class SparkApplication {
  @Field(() => String, { description: 'The jar (an absolute path or a file:, local:, http(s):, hdfs:, s3a:, gs:, abfs(s): URL)' })
  appResource!: string;

  @Field(() => String)
  mainClass!: string;

  @Field(() => [String])
  args!: string[];
}

@InputType('SparkApplicationInput')
export class SparkApplicationInput {
  @Field(() => String)
  appResource!: string;

  @Field(() => String)
  mainClass!: string;

  @Field(() => [String], { nullable: true, defaultValue: [] })
  args?: string[] | null;
}
