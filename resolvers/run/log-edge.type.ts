import { Field, ObjectType } from 'type-graphql';
import { LogLine } from './log-line.type';

@ObjectType('LogEdge', { simpleResolvers: true })
export class LogEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => LogLine)
  node!: LogLine;
}
