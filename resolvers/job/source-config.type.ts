import { Field, ObjectType } from 'type-graphql';
import { SourceType } from '../enums';
import { JSONScalar } from '../scalars';

@ObjectType('SourceConfig', { simpleResolvers: true })
export class SourceConfig {
  @Field(() => SourceType)
  type!: SourceType;

  @Field(() => JSONScalar, { description: 'Connection parameters with every secret replaced by "***"' })
  params!: unknown;

  @Field(() => String, { nullable: true })
  filePattern!: string | null;

  @Field(() => Boolean)
  schemaInference!: boolean;
}
