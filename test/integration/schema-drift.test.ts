/**
 * schema/schema.graphql is emitted from the resolvers and committed; it must be what the code
 * defines now. Regenerate with `npm run schema:emit`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import { SCHEMA_FILE, renderSchema } from '../../scripts/emit-schema';

describe('emitted schema', () => {
  it('schema/schema.graphql matches the schema the resolvers build', async () => {
    const expected = await renderSchema();
    const committed = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    if (committed !== expected) {
      throw new Error(
        `schema/schema.graphql is out of date with resolvers/: run \`npm run schema:emit\` ` +
          `(npx ts-node --swc scripts/emit-schema.ts) and commit the result.`,
      );
    }
  });
});
