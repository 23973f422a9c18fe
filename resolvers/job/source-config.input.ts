import { Field, InputType } from 'type-graphql';
import { SourceType } from '../enums';
import { JSONScalar } from '../scalars';

/** Where a job reads from. `params` are validated per source type by the jobs service. */
@InputType('SourceConfigInput')
export class SourceConfigInput {
  @Field(() => SourceType)
  type!: SourceType;

  @Field(() => JSONScalar, { description: 'Connection parameters (see DESIGN.md); secrets are stored, never returned' })
  params!: unknown;

  @Field(() => String, { nullable: true })
  filePattern?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: true })
  schemaInference?: boolean | null;
}
