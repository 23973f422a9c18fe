import { Field, ObjectType } from 'type-graphql';
import { DataFormat, SourceType } from '../enums';

@ObjectType('SourceTypeInfo')
export class SourceTypeInfo {
  @Field(() => SourceType)
  type!: SourceType;

  @Field(() => [DataFormat])
  formats!: DataFormat[];

  @Field(() => Boolean)
  batch!: boolean;

  @Field(() => Boolean)
  streaming!: boolean;
}
