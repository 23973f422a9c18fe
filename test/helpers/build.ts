import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** What `tsc -p tsconfig.build.json` compiles into the server: a change under any of these makes `dist/` stale. */
export const SERVER_SOURCES = ['src', 'resolvers', 'workers', 'migrations', 'client'];

/** What the command line (`dist/cli/`) is compiled from: a change under any of these makes it stale. */
export const CLI_SOURCES = ['cli', 'client'];

/** The newest file under `dirs` (relative to the repository root), or undefined when there is none. */
function newestFile(dirs: string[]): { file: string; mtimeMs: number } | undefined {
  let newest: { file: string; mtimeMs: number } | undefined;
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.isFile()) {
        const { mtimeMs } = fs.statSync(file);
        if (!newest || mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
      }
    }
  };
  for (const dir of dirs) if (fs.existsSync(path.join(ROOT, dir))) visit(path.join(ROOT, dir));
  return newest;
}

/**
 * The absolute path of a compiled entry point (`dist/src/main.js`, `dist/scripts/demo.js`) for a
 * test to spawn with plain `node`. Tests run the build rather than ts-node, which takes far longer
 * to start than a test may wait on a loaded machine.
 *
 * Throws, saying to run `npm run build`, when the file is missing or older than any file under
 * `sources` (default {@link SERVER_SOURCES}): stale code would be tested. There is deliberately no
 * fallback to ts-node.
 */
export function builtEntry(relative: string, sources: string[] = SERVER_SOURCES): string {
  const file = path.join(ROOT, relative);
  const built = fs.statSync(file, { throwIfNoEntry: false });
  if (!built) throw new Error(`${relative} does not exist: run \`npm run build\` before the tests that spawn it.`);
  const newest = newestFile(sources);
  if (newest && newest.mtimeMs > built.mtimeMs) {
    throw new Error(
      `${relative} is older than ${path.relative(ROOT, newest.file)}: run \`npm run build\` so the tests run the code as it is now.`,
    );
  }
  return file;
}
