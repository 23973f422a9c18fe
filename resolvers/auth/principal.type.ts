import { Field, ObjectType } from 'type-graphql';
import { Role } from '../enums';

/** Who is calling, as the gateway authenticated it. */
@ObjectType('Principal', { simpleResolvers: true })
export class Principal {
  @Field(() => String, {
    description: 'A JWT\'s sub, token:<name> for an API token, "local" (embedded default) or "anonymous" (JOBWIRE_AUTH=off)',
  })
  subject!: string;

  @Field(() => Role)
  role!: Role;
}
