/**
 * The served schema must contain the public contract (shared/design/contract.graphql): every type,
 * field (with its exact type: nullability and list wrapping), argument (name, type, default),
 * enum value and input field (type, default). It may add more, except new required arguments or
 * input fields, which would break existing clients. A failure lists every difference at once.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isRequiredArgument,
  isRequiredInputField,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { buildJobwireSchema } from '../../src/graphql/schema';
import { schemaParts } from '../../resolvers';

/**
 * The living contract sits beside the repository (`<clone>/../shared/design/contract.graphql`, with
 * its extensions in `contract/NN-name.graphql`) when it is checked out that way; `schema/` holds the
 * committed copies, so a clone anywhere else is still checked — and a change of the living one is
 * noticed until the copy follows it.
 */
const SHARED_DIR = path.resolve(__dirname, '../../../shared/design');
const SCHEMA_DIR = path.resolve(__dirname, '../../schema');

/**
 * The extensions that are part of the contract: each belongs to an issue and joins once that issue
 * is resolved. Add a name here (and copy its file to `schema/contract/`) when its issue lands.
 */
const RESOLVED_EXTENSIONS = ['03-core.graphql', '04-kafka.graphql', '05-spark.graphql', '06-security.graphql', '07-dashboard.graphql'];

/** The contract's files: the core one and the resolved extensions, as [shared path, committed copy]. */
const CONTRACT_FILES: [string, string][] = [
  [path.join(SHARED_DIR, 'contract.graphql'), path.join(SCHEMA_DIR, 'contract.graphql')],
  ...RESOLVED_EXTENSIONS.map((f): [string, string] => [path.join(SHARED_DIR, 'contract', f), path.join(SCHEMA_DIR, 'contract', f)]),
];

const kindOf = (t: GraphQLNamedType) =>
  isObjectType(t)
    ? 'type'
    : isInputObjectType(t)
      ? 'input'
      : isEnumType(t)
        ? 'enum'
        : isScalarType(t)
          ? 'scalar'
          : isInterfaceType(t)
            ? 'interface'
            : isUnionType(t)
              ? 'union'
              : 'unknown';

const defaultOf = (v: GraphQLArgument | GraphQLInputField) => JSON.stringify(v.defaultValue);

/** Every way `served` falls short of `contract`, one line each. */
function contractGaps(contract: GraphQLSchema, served: GraphQLSchema): string[] {
  const gaps: string[] = [];
  const compareArgs = (where: string, want: readonly GraphQLArgument[], have: readonly GraphQLArgument[]) => {
    for (const a of want) {
      const h = have.find((x) => x.name === a.name);
      if (!h) gaps.push(`missing argument ${where}(${a.name}: ${a.type})`);
      else {
        if (String(h.type) !== String(a.type)) gaps.push(`argument ${where}(${a.name}) is ${h.type}, contract says ${a.type}`);
        if (defaultOf(h) !== defaultOf(a))
          gaps.push(`argument ${where}(${a.name}) defaults to ${defaultOf(h)}, contract says ${defaultOf(a)}`);
      }
    }
    for (const h of have) {
      if (!want.some((a) => a.name === h.name) && isRequiredArgument(h))
        gaps.push(`extra required argument ${where}(${h.name}: ${h.type}) breaks clients`);
    }
  };

  for (const want of Object.values(contract.getTypeMap())) {
    if (want.name.startsWith('__') || isSpecifiedScalarType(want)) continue;
    const have = served.getType(want.name);
    if (!have) {
      gaps.push(`missing ${kindOf(want)} ${want.name}`);
      continue;
    }
    if (kindOf(have) !== kindOf(want)) {
      gaps.push(`${want.name} is a ${kindOf(have)}, contract says ${kindOf(want)}`);
      continue;
    }
    if (isObjectType(want) && isObjectType(have)) {
      const fields = have.getFields();
      for (const f of Object.values(want.getFields()) as GraphQLField<unknown, unknown>[]) {
        const h = fields[f.name];
        if (!h) gaps.push(`missing field ${want.name}.${f.name}: ${f.type}`);
        else {
          if (String(h.type) !== String(f.type)) gaps.push(`field ${want.name}.${f.name} is ${h.type}, contract says ${f.type}`);
          compareArgs(`${want.name}.${f.name}`, f.args, h.args);
        }
      }
    }
    if (isInputObjectType(want) && isInputObjectType(have)) {
      const fields = have.getFields();
      for (const f of Object.values(want.getFields())) {
        const h = fields[f.name];
        if (!h) gaps.push(`missing input field ${want.name}.${f.name}: ${f.type}`);
        else {
          if (String(h.type) !== String(f.type)) gaps.push(`input field ${want.name}.${f.name} is ${h.type}, contract says ${f.type}`);
          if (defaultOf(h) !== defaultOf(f))
            gaps.push(`input field ${want.name}.${f.name} defaults to ${defaultOf(h)}, contract says ${defaultOf(f)}`);
        }
      }
      for (const h of Object.values(fields)) {
        if (!want.getFields()[h.name] && isRequiredInputField(h))
          gaps.push(`extra required input field ${want.name}.${h.name} breaks clients`);
      }
    }
    if (isEnumType(want) && isEnumType(have)) {
      const values = new Set(have.getValues().map((v) => v.name));
      for (const v of want.getValues()) if (!values.has(v.name)) gaps.push(`missing enum value ${want.name}.${v.name}`);
    }
  }
  return gaps;
}

describe('public contract', () => {
  it('the served schema contains every type, field, argument, enum value and input of the contract and its resolved extensions', async () => {
    for (const [shared, copy] of CONTRACT_FILES) {
      if (fs.existsSync(shared) && fs.readFileSync(shared, 'utf8') !== fs.readFileSync(copy, 'utf8')) {
        const rel = path.relative(SHARED_DIR, shared);
        throw new Error(
          `shared/design/${rel} changed: copy it to ${path.relative(path.dirname(SCHEMA_DIR), copy)}, then make the schema meet it`,
        );
      }
    }
    const contract = buildSchema(CONTRACT_FILES.map(([, copy]) => fs.readFileSync(copy, 'utf8')).join('\n'));
    const gaps = contractGaps(contract, await buildJobwireSchema(schemaParts));
    if (gaps.length) throw new Error(`The served schema breaks the contract in ${gaps.length} place(s):\n  ${gaps.join('\n  ')}`);
  });

  it('notices what a served schema leaves out or changes (the check itself can fail)', () => {
    const contract = buildSchema(`
      type Query { job(id: ID!): Job, jobs(first: Int = 20): [Job!]! }
      type Job { id: ID!, tags: [String!]! }
      enum Level { A B }
      input In { n: Int = 3 }
      type Mutation { f(x: In): Level }`);
    const served = buildSchema(`
      type Query { job(id: ID!, extra: Int!): Job, jobs(first: Int = 10): [Job!] }
      type Job { id: ID!, tags: [String] }
      enum Level { A }
      input In { n: Int }
      type Mutation { f(x: In): Level }`);
    expect(contractGaps(contract, served)).toEqual([
      'extra required argument Query.job(extra: Int!) breaks clients',
      'field Query.jobs is [Job!], contract says [Job!]!',
      'argument Query.jobs(first) defaults to 10, contract says 20',
      'field Job.tags is [String], contract says [String!]!',
      'missing enum value Level.B',
      'input field In.n defaults to undefined, contract says 3',
    ]);
  });
});
