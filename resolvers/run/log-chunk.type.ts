import { Field, ID, Int, ObjectType } from 'type-graphql';
import { LogLine } from './log-line.type';

/**
 * One `runLogs` message. Stored lines come first (`replay: true`), then live ones. When lines were
 * shed for a slow client, a chunk with no lines says how many (`droppedLines`) and `cursor` is
 * where to fetch them from with `Run.logs(after: cursor)`.
 */
@ObjectType('LogChunk', { simpleResolvers: true })
export class LogChunk {
  @Field(() => ID)
  runId!: string;

  @Field(() => [LogLine])
  lines!: LogLine[];

  @Field(() => String, {
    nullable: true,
    description: 'Seq of the last line in this chunk (of the last line sent, on a chunk without lines)',
  })
  cursor!: string | null;

  @Field(() => Boolean)
  replay!: boolean;

  @Field(() => Int)
  droppedLines!: number;
}
