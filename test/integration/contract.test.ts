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
 * The living contract sits beside the repository (`<clone>/../shared/design/contract.graphql`) when
 * it is checked out that way; `schema/contract.graphql` is the committed copy, so a clone anywhere
 * else is still checked — and a change of the living one is noticed until the copy follows it.
 */
const SHARED_CONTRACT = path.resolve(__dirname, '../../../shared/design/contract.graphql');
const CONTRACT = path.resolve(__dirname, '../../schema/contract.graphql');

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
  it('the served schema contains every type, field, argument, enum value and input of contract.graphql', async () => {
    if (fs.existsSync(SHARED_CONTRACT) && fs.readFileSync(SHARED_CONTRACT, 'utf8') !== fs.readFileSync(CONTRACT, 'utf8')) {
      throw new Error(`shared/design/contract.graphql changed: copy it to schema/contract.graphql, then make the schema meet it`);
    }
    const contract = buildSchema(fs.readFileSync(CONTRACT, 'utf8'));
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
