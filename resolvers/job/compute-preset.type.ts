import { Field, ObjectType } from 'type-graphql';
import { ComputeConfig } from './compute-config.type';

@ObjectType('ComputePreset', { simpleResolvers: true })
export class ComputePreset {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => ComputeConfig)
  compute!: ComputeConfig;
}
