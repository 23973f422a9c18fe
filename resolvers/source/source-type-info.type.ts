import { Field, ObjectType } from 'type-graphql';
import { DataFormat, ExecutionBackend, SourceType } from '../enums';

@ObjectType('SourceTypeInfo', { simpleResolvers: true })
export class SourceTypeInfo {
  @Field(() => SourceType)
  type!: SourceType;

  @Field(() => [DataFormat])
  formats!: DataFormat[];

  @Field(() => Boolean)
  batch!: boolean;

  @Field(() => Boolean)
  streaming!: boolean;

  @Field(() => [ExecutionBackend], { description: 'The backends of this gateway that can execute this source type' })
  backends!: ExecutionBackend[];
}
