import { Field, ObjectType } from 'type-graphql';
import { PageInfo } from '../common/page-info.type';
import { LogEdge } from './log-edge.type';

@ObjectType('LogConnection', { simpleResolvers: true })
export class LogConnection {
  @Field(() => [LogEdge])
  edges!: LogEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}
