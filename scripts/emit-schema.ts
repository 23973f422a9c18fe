/**
 * Writes schema/schema.graphql from the resolvers (sorted, so the output only changes when the
 * schema does). Run: `npx ts-node --swc scripts/emit-schema.ts` (npm run schema:emit).
 * With `--check`, writes nothing and exits 1 when the committed file differs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildJobwireSchema } from '../src/graphql/schema';
import { schemaParts } from '../resolvers';

export const SCHEMA_FILE = path.resolve(__dirname, '../schema/schema.graphql');

const HEADER = '# Emitted by scripts/emit-schema.ts from resolvers/ — do not edit; run `npm run schema:emit`.\n\n';

/** The SDL the code defines, exactly as it is written to schema/schema.graphql. */
export async function renderSchema(): Promise<string> {
  return HEADER + printSchema(lexicographicSortSchema(await buildJobwireSchema(schemaParts))) + '\n';
}

async function main() {
  const sdl = await renderSchema();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    if (current !== sdl) {
      console.error(`${SCHEMA_FILE} is out of date: run \`npm run schema:emit\``);
      process.exit(1);
    }
    return;
  }
  fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
  fs.writeFileSync(SCHEMA_FILE, sdl);
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
