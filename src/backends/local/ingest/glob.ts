/**
 * A small glob for the LOCAL source (Node 20 has no stable fs.glob): `*` and `?` within one path
 * segment, `**` for any number of directories. Like shells, wildcards do not match names starting
 * with a dot unless the pattern segment itself starts with one.
 */
import { readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { permanent } from './errors';

/** Whether `s` contains glob wildcards (`*` or `?`). */
export function hasGlobChars(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

const segmentCache = new Map<string, RegExp>();

/** Whether a single file/directory name matches a single-segment pattern (`*`, `?`; no `/`). */
export function matchSegment(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.')) return false;
  let re = segmentCache.get(pattern);
  if (!re) {
    let src = '^';
    for (const ch of pattern) {
      if (ch === '*') src += '[^/]*';
      else if (ch === '?') src += '[^/]';
      else src += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
    re = new RegExp(`${src}$`, 's');
    if (segmentCache.size < 1000) segmentCache.set(pattern, re);
  }
  return re.test(name);
}

function matchFrom(p: string[], i: number, s: string[], j: number): boolean {
  if (i === p.length) return j === s.length;
  if (p[i] === '**') {
    for (let k = j; k <= s.length; k++) {
      if (matchFrom(p, i + 1, s, k)) return true;
      // `**` does not descend into hidden directories.
      if (k < s.length && s[k].startsWith('.')) return false;
    }
    return false;
  }
  return j < s.length && matchSegment(p[i], s[j]) && matchFrom(p, i + 1, s, j + 1);
}

/**
 * Whether a `/`-separated path matches a glob pattern with the same semantics as {@link expandGlob}.
 * Pure string matching; never touches the file system.
 */
export function matchGlob(pattern: string, filePath: string): boolean {
  const split = (x: string) => x.split('/').filter((seg, i) => seg !== '' || i === 0);
  return matchFrom(split(pattern), 0, split(filePath), 0);
}

async function entryIsFile(dir: string, e: Dirent): Promise<boolean> {
  if (e.isFile()) return true;
  if (!e.isSymbolicLink()) return false;
  return stat(path.join(dir, e.name)).then(
    (st) => st.isFile(),
    () => false,
  );
}

async function entryIsDir(dir: string, e: Dirent, follow: boolean): Promise<boolean> {
  if (e.isDirectory()) return true;
  if (!follow || !e.isSymbolicLink()) return false;
  return stat(path.join(dir, e.name)).then(
    (st) => st.isDirectory(),
    () => false,
  );
}

/**
 * Lists a directory; a missing directory is simply empty (nothing matches), any other failure
 * (permission denied, not a directory...) is IngestError PERMANENT.
 */
export async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw permanent(`cannot read directory ${dir}: ${code ?? (err as Error).message}`, (err as Error).message, err);
  }
}

/** The regular files (symlinks followed) of a directory whose names match `pattern` (default `*`), sorted. */
export async function filesInDir(dir: string, pattern = '*'): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    if (matchSegment(pattern, e.name) && (await entryIsFile(dir, e))) out.push(path.join(dir, e.name));
  }
  return out.sort();
}

/** The directory part of a glob before its first wildcard segment (the path itself when it has none), and the rest. */
function splitGlob(pattern: string, cwd = process.cwd()): { base: string; rest: string[] } {
  const segs = path.resolve(cwd, pattern).split(path.sep);
  let k = 1;
  while (k < segs.length && !hasGlobChars(segs[k])) k++;
  return { base: segs.slice(0, k).join(path.sep) || path.sep, rest: segs.slice(k) };
}

/** See {@link splitGlob}. */
export function globBase(pattern: string): string {
  return splitGlob(pattern).base;
}

/**
 * Expands a glob (relative patterns resolve against `cwd`) into absolute file paths, sorted.
 * Symlinked directories are not followed by `**` (no loops). Returns [] when nothing matches;
 * throws IngestError PERMANENT when a directory on the way cannot be read.
 */
export async function expandGlob(pattern: string, cwd = process.cwd()): Promise<string[]> {
  const { base, rest } = splitGlob(pattern, cwd);
  if (rest.length === 0) {
    return stat(base).then(
      (st) => (st.isFile() ? [base] : []),
      () => [],
    );
  }
  const found = new Set<string>();
  const walk = async (dir: string, i: number): Promise<void> => {
    const seg = rest[i];
    const entries = await listDir(dir);
    if (seg === '**') {
      if (i + 1 < rest.length) await walk(dir, i + 1);
      for (const e of entries) {
        if (!e.name.startsWith('.') && (await entryIsDir(dir, e, false))) await walk(path.join(dir, e.name), i);
        else if (i + 1 === rest.length && !e.name.startsWith('.') && (await entryIsFile(dir, e))) found.add(path.join(dir, e.name));
      }
      return;
    }
    const last = i === rest.length - 1;
    for (const e of entries) {
      if (!matchSegment(seg, e.name)) continue;
      if (last) {
        if (await entryIsFile(dir, e)) found.add(path.join(dir, e.name));
      } else if (await entryIsDir(dir, e, true)) {
        await walk(path.join(dir, e.name), i + 1);
      }
    }
  };
  await walk(base, 0);
  return [...found].sort();
}
