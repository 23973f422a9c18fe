/**
 * The committed codegen output (client/generated/) must be what codegen.yml produces from the
 * committed schema and client/operations/. Regenerate with `npm run codegen`.
 *
 * Codegen runs as its own process (its CLI loads ESM-only modules jest cannot require) in a
 * scratch copy of the inputs, so the committed files are compared, never overwritten.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');
const GENERATED = 'client/generated';

const listFiles = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { recursive: true, withFileTypes: false })
        .map(String)
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
        .sort()
    : [];

describe('codegen output', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-codegen-'));
    for (const p of ['codegen.yml', 'schema', 'client/operations'])
      fs.cpSync(path.join(ROOT, p), path.join(scratch, p), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
  });
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('client/generated matches what codegen.yml generates from schema/schema.graphql and client/operations', async () => {
    const bin = path.join(ROOT, 'node_modules', '@graphql-codegen', 'cli', 'cjs', 'bin.js');
    await promisify(execFile)(process.execPath, [bin, '--config', 'codegen.yml', '--silent'], { cwd: scratch, timeout: 60_000 });
    const fresh = listFiles(path.join(scratch, GENERATED));
    const committed = listFiles(path.join(ROOT, GENERATED));
    expect(fresh.length).toBeGreaterThan(0);
    const stale = [...new Set([...fresh, ...committed])].filter((f) => {
      const a = path.join(scratch, GENERATED, f);
      const b = path.join(ROOT, GENERATED, f);
      return !fs.existsSync(a) || !fs.existsSync(b) || fs.readFileSync(a, 'utf8') !== fs.readFileSync(b, 'utf8');
    });
    if (stale.length) throw new Error(`${GENERATED}/ is out of date (${stale.join(', ')}): run \`npm run codegen\`.`);
  });
});
