import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { permanent } from './errors';

/**
 * LOCAL sources read files with the gateway's own permissions; `LOCAL_SOURCE_ROOTS` confines them.
 * A path is inside the roots when, with `..` and every symbolic link resolved (also those of a
 * missing tail, so that a dangling link answers like any other path outside), it lies in one of
 * them. Returns a check for paths, with the roots resolved once.
 */
export function rootsCheck(roots: readonly string[]): (p: string) => boolean {
  const real = roots.map(resolveReal);
  return (p) => isInside(real, resolveReal(p));
}

function isInside(realRoots: readonly string[], target: string): boolean {
  return realRoots.some((root) => {
    const rel = path.relative(root, target);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The message of every refusal of a file outside the roots (it names the path the job gave, never the link's target). */
export function outsideRoots(file: string): string {
  return `${file} is outside the directories LOCAL sources may read (LOCAL_SOURCE_ROOTS)`;
}

/** Throws IngestError PERMANENT naming the first of `files` outside `roots`; null or absent roots: no restriction. */
export function assertWithinRoots(files: readonly string[], roots: readonly string[] | null | undefined): void {
  if (!roots) return;
  const inside = rootsCheck(roots);
  const outside = files.find((f) => !inside(f));
  if (outside) throw permanent(outsideRoots(outside));
}

/**
 * Opens `file` for reading when it lies inside `roots` (null or absent: anywhere), checking the
 * file actually opened — on Linux through `/proc/self/fd`, so a symbolic link swapped in between
 * the listing and the open is caught too. Rejects with IngestError PERMANENT when it is outside,
 * and with the file system's error when it cannot be opened.
 */
export async function openWithinRoots(file: string, roots: readonly string[] | null | undefined): Promise<FileHandle> {
  if (!roots) return open(file, 'r');
  const realRoots = roots.map(resolveReal);
  if (!isInside(realRoots, resolveReal(file))) throw permanent(outsideRoots(file));
  const handle = await open(file, 'r');
  let opened: string | null = null;
  try {
    opened = fs.readlinkSync(`/proc/self/fd/${handle.fd}`);
  } catch {
    // No procfs (macOS): the check before opening stands alone.
  }
  if (opened !== null && path.isAbsolute(opened) && !isInside(realRoots, opened)) {
    await handle.close();
    throw permanent(outsideRoots(file));
  }
  return handle;
}

/** Symbolic links followed while resolving one path before giving up (as the kernel's ELOOP). */
const MAX_LINKS = 40;

/**
 * `p` made absolute with `..` and every symbolic link resolved: `realpath` when the path exists;
 * otherwise component by component, following links (dangling ones too) and keeping a missing
 * tail as written.
 */
export function resolveReal(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    // Resolved by hand below.
  }
  let done = path.parse(abs).root;
  const todo = abs.slice(done.length).split(path.sep).filter(Boolean);
  let links = 0;
  while (todo.length) {
    const seg = todo.shift()!;
    if (seg === '.') continue;
    if (seg === '..') {
      done = path.dirname(done);
      continue;
    }
    const next = path.join(done, seg);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch {
      // Missing: the rest stays as written (normalised).
      return path.resolve(next, ...todo);
    }
    if (st.isSymbolicLink() && links++ < MAX_LINKS) {
      const target = fs.readlinkSync(next);
      const resolved = path.resolve(done, target);
      done = path.parse(resolved).root;
      todo.unshift(...resolved.slice(done.length).split(path.sep).filter(Boolean));
    } else {
      done = next;
    }
  }
  return done;
}
