import { Field, ObjectType } from 'type-graphql';
import { LogChunk } from './log-chunk.type';

/**
 * A `runEvents` message: log lines at `minLevel` or above. `cursor` is the RunEvent cursor (the last
 * of the lines the message stands for, filtered ones included); `chunk.cursor` the LogLine.seq of its
 * last line, for `Run.logs(after:)`.
 */
@ObjectType('LogEvent', { simpleResolvers: true })
export class LogEvent {
  @Field(() => String, { description: 'Strictly increasing per run across every kind of RunEvent; resume with `after: cursor`' })
  cursor!: string;

  @Field(() => LogChunk)
  chunk!: LogChunk;
}
