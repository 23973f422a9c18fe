import { Field, InputType } from 'type-graphql';

@InputType('DestinationInput')
export class DestinationInput {
  @Field(() => String)
  schema!: string;

  @Field(() => String)
  table!: string;
}
