import { Field, ObjectType } from 'type-graphql';

/** Relay page info: `endCursor` is the cursor of the last edge, null on an empty page. */
@ObjectType('PageInfo', { simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}
