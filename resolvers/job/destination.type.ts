import { Field, ObjectType } from 'type-graphql';

@ObjectType('Destination', { simpleResolvers: true })
export class Destination {
  @Field(() => String)
  schema!: string;

  @Field(() => String)
  table!: string;
}
