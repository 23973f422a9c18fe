import fs from 'node:fs';
import path from 'node:path';

let root: string | undefined;

/**
 * The project's folder: the nearest ancestor of this file holding package.json (the same from
 * `src/` under ts-node and from `dist/src/` when built). Where the built assets (`dist/graphiql`,
 * `dist/spark`) and the samples are.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return (root = dir);
}
