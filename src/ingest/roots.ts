import fs from 'node:fs';
import path from 'node:path';
import { hasGlobChars } from './glob';

/**
 * LOCAL sources read files with the gateway's own permissions. With `LOCAL_SOURCE_ROOTS` set, a path
 * (after resolving `..` and symbolic links) must lie inside one of those directories.
 */
export function isWithinRoots(p: string, roots: readonly string[]): boolean {
  const target = realOrResolved(p);
  return roots.some((root) => {
    const rel = path.relative(realOrResolved(root), target);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The directory part of a glob before its first wildcard segment (the path itself when it has none). */
export function globBase(p: string): string {
  const segs = path.resolve(p).split(path.sep);
  const k = segs.findIndex(hasGlobChars);
  return k === -1 ? segs.join(path.sep) : segs.slice(0, k).join(path.sep) || path.sep;
}

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}
