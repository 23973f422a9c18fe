import fs from 'node:fs';
import path from 'node:path';
import { permanent } from './errors';

/**
 * LOCAL sources read files with the gateway's own permissions. With `LOCAL_SOURCE_ROOTS` set, a path
 * (after resolving `..` and symbolic links) must lie inside one of those directories.
 * Returns a check for paths, with the roots resolved once.
 */
export function rootsCheck(roots: readonly string[]): (p: string) => boolean {
  const real = roots.map(realOrResolved);
  return (p) => {
    const target = realOrResolved(p);
    return real.some((root) => {
      const rel = path.relative(root, target);
      return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
    });
  };
}

/** Throws IngestError PERMANENT naming the first of `files` outside `roots`; no roots: no restriction. */
export function assertWithinRoots(files: readonly string[], roots: readonly string[] | null | undefined): void {
  if (!roots?.length) return;
  const inside = rootsCheck(roots);
  const outside = files.find((f) => !inside(f));
  if (outside) throw permanent(`${outside} is outside the directories LOCAL sources may read (LOCAL_SOURCE_ROOTS)`);
}

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}
