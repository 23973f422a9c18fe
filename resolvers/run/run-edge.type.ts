import { Field, ObjectType } from 'type-graphql';
import { Run } from './run.type';

@ObjectType('RunEdge', { simpleResolvers: true })
export class RunEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Run)
  node!: Run;
}
