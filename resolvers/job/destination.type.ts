import { Field, ObjectType } from 'type-graphql';

@ObjectType('Destination')
export class Destination {
  @Field(() => String)
  schema!: string;

  @Field(() => String)
  table!: string;
}
