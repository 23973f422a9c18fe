import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** Every environment variable src/config.ts reads: `env.NAME` and the names given to its readers. */
function variablesRead(): string[] {
  const src = fs.readFileSync(path.join(root, 'src/config.ts'), 'utf8');
  const names = new Set<string>();
  for (const m of src.matchAll(/env\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]);
  for (const m of src.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'/g)) names.add(m[1]);
  return [...names].sort();
}

describe('README', () => {
  it('lists every variable src/config.ts reads in its configuration table', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));
    const read = variablesRead();
    expect(read.length).toBeGreaterThan(20);
    expect(read.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('points only to documents that exist', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const paths = [
      ...readme.matchAll(/`((?:docs|bench|schema|samples|src|test|workers|resolvers)\/[\w./-]+\.(?:md|ts|graphql|csv))`/g),
    ].map((m) => m[1]);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !fs.existsSync(path.join(root, p)))).toEqual([]);
  });
});
