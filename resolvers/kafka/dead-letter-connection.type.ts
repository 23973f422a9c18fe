import { Field, Int, ObjectType } from 'type-graphql';
import { PageInfo } from '../common/page-info.type';
import { DeadLetter } from './dead-letter.type';

@ObjectType('DeadLetterEdge', { simpleResolvers: true })
export class DeadLetterEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => DeadLetter)
  node!: DeadLetter;
}

@ObjectType('DeadLetterConnection', { simpleResolvers: true })
export class DeadLetterConnection {
  @Field(() => [DeadLetterEdge])
  edges!: DeadLetterEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
