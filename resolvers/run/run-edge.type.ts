import { Field, ObjectType } from 'type-graphql';
import { Run } from './run.type';

@ObjectType('RunEdge')
export class RunEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Run)
  node!: Run;
}
