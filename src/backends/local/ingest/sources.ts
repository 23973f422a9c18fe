/**
 * Sources of the LOCAL executor: local files (path, directory or glob) and HTTP(S) downloads, both
 * exposed as byte streams read chunk by chunk so that files larger than memory work.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ALLOW_ALL, isAddressNotAllowed, type AddressPolicy } from '../../../net/address-policy';
import { BadPortError, guardedGet, type GuardedResponse } from '../../../net/guarded-http';
import { IngestError, cancelled, permanent, transient, transientNetworkCode } from './errors';
import { assertWithinRoots, openWithinRoots } from './roots';
import { expandGlob, filesInDir, hasGlobChars, matchSegment } from './glob';
import type { IngestSpec, LogLevel } from './types';

/** Read size of local files; large enough to amortise per-chunk work, small enough to stay responsive to aborts. */
export const READ_CHUNK_BYTES = 1 << 20;
/** Default HTTP timeout: to response headers, and the longest silence while reading the body. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/** An opened input: its bytes, and its size when known (Content-Length, file size). */
export interface OpenedInput {
  chunks: AsyncIterable<Buffer>;
  size: number | null;
}

/** One input of a source: a file, or the HTTP resource. */
export interface SourceInput {
  /** File path or URL path; its extension drives AUTO format detection. */
  name: string;
  /** Safe to log: a file path, or the URL without userinfo and query string. */
  label: string;
  /** Size in bytes when known before opening. */
  size: number | null;
  /** Opens the input. Rejects with IngestError (PERMANENT, TRANSIENT or CANCELLED). */
  open(signal: AbortSignal): Promise<OpenedInput>;
}

type Log = (level: LogLevel, message: string) => void;

/** What a source may reach: directories for files (null: any), and addresses on the network (absent: any). */
export interface SourceAccess {
  allowedRoots?: readonly string[] | null;
  allowedNetworks?: AddressPolicy | null;
}

/**
 * Resolves a source into its inputs, in processing order. LOCAL: a missing path, a glob or directory
 * matching no file, an unreadable directory or a file outside `access.allowedRoots` => PERMANENT.
 * HTTP: an invalid URL or headers => PERMANENT (nothing is fetched yet; the address is checked
 * against `access.allowedNetworks` when it is). Any other source type => PERMANENT (not supported here).
 */
export async function resolveSource(source: IngestSpec['source'], log: Log, access: SourceAccess = {}): Promise<SourceInput[]> {
  switch (source.type) {
    case 'LOCAL':
      return resolveLocal(source.params, source.filePattern ?? null, log, access.allowedRoots);
    case 'HTTP':
      return [resolveHttp(source.params, access.allowedNetworks ?? ALLOW_ALL)];
    default:
      throw permanent(`source type ${String(source.type)} is not supported by the LOCAL executor`);
  }
}

/**
 * The files a LOCAL path names, sorted: the file itself, a directory's files matching `filePattern`
 * (default every non-hidden file), or a glob's matches filtered by `filePattern`. Rejects with the
 * file system's error (its `code` set: ENOENT …) when the path cannot be examined, and IngestError
 * PERMANENT when it is neither a file nor a directory. Shared by the executor and connection tests.
 */
export async function listLocalFiles(p: string, filePattern: string | null): Promise<string[]> {
  if (hasGlobChars(p)) {
    const files = await expandGlob(p);
    return filePattern ? files.filter((f) => matchSegment(filePattern, path.basename(f))) : files;
  }
  const st = await stat(p);
  if (st.isDirectory()) return filesInDir(p, filePattern || '*');
  if (st.isFile()) return [p];
  throw permanent(`${p} is neither a regular file nor a directory`);
}

async function resolveLocal(
  params: Record<string, unknown>,
  filePattern: string | null,
  log: Log,
  allowedRoots?: readonly string[] | null,
): Promise<SourceInput[]> {
  const p = params.path;
  if (typeof p !== 'string' || p.length === 0) throw permanent('LOCAL source needs params.path (a file, directory or glob)');
  const files = await listLocalFiles(p, filePattern).catch((err: NodeJS.ErrnoException) => {
    if (err instanceof IngestError) throw err;
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw permanent(`file not found: ${p}`);
    throw permanent(`cannot access ${p}: ${err.code ?? err.message}`, err.message, err);
  });
  assertWithinRoots(files, allowedRoots);
  if (files.length === 0) {
    throw permanent(`no file matches ${p}${filePattern ? ` with filePattern ${filePattern}` : ''}`);
  }
  const sizes = await Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => s.size,
        () => null,
      ),
    ),
  );
  if (files.length > 1) log('INFO', `${files.length} files match ${p}${filePattern ? ` (${filePattern})` : ''}`);
  return files.map((file, i) => ({ name: file, label: file, size: sizes[i], open: () => openLocal(file, allowedRoots) }));
}

async function openLocal(file: string, allowedRoots: readonly string[] | null | undefined): Promise<OpenedInput> {
  // Checked again here, on the file actually opened: a link may have changed since the listing.
  const handle = await openWithinRoots(file, allowedRoots).catch((err: NodeJS.ErrnoException) => {
    if (err instanceof IngestError) throw err;
    throw err.code === 'ENOENT'
      ? permanent(`file not found: ${file}`)
      : permanent(`cannot open ${file}: ${err.code ?? err.message}`, err.message, err);
  });
  const size = await handle.stat().then(
    (s) => s.size,
    () => null,
  );
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  return { chunks: guardLocal(stream, file), size };
}

async function* guardLocal(stream: Readable, file: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EIO, EMFILE and the like may pass; a vanished or forbidden file will not.
    const kind = code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' ? 'PERMANENT' : 'TRANSIENT';
    throw new IngestError(kind, `error reading ${file}: ${code ?? (err as Error).message}`, (err as Error).message, { cause: err });
  } finally {
    stream.destroy();
  }
}

/** The URL as safe to log: no userinfo, no query string, no fragment. Unparseable input gives `<invalid URL>`. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

function resolveHttp(params: Record<string, unknown>, policy: AddressPolicy): SourceInput {
  let url: URL;
  try {
    url = new URL(String(params.url ?? ''));
  } catch {
    throw permanent('HTTP source needs params.url, an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw permanent(`unsupported URL scheme ${url.protocol} (http and https only)`);
  const headers = new Headers();
  const raw = params.headers ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw permanent('params.headers must be an object of strings');
  for (const [name, value] of Object.entries(raw)) {
    // Header values are secrets: neither the value nor fetch's own message (which quotes it) may leak.
    if (typeof value !== 'string') throw permanent(`HTTP header "${name}" must be a string`);
    try {
      headers.set(name, value);
    } catch {
      throw permanent(`invalid HTTP header "${name}"`);
    }
  }
  moveCredentialsToHeader(url, headers);
  const t = Number(params.timeoutMs);
  const timeoutMs = Number.isFinite(t) && t > 0 ? t : DEFAULT_HTTP_TIMEOUT_MS;
  const label = redactUrl(url);
  return { name: url.pathname, label, size: null, open: (signal) => openHttp(url, headers, policy, label, timeoutMs, signal) };
}

async function openHttp(
  url: URL,
  headers: Headers,
  policy: AddressPolicy,
  label: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<OpenedInput> {
  const ac = new AbortController();
  let timedOut = false;
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
  };
  const cleanup = () => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  };
  arm();
  const fail = (err: unknown, when: string): IngestError => {
    if (signal.aborted) return cancelled();
    if (err instanceof IngestError) return err;
    if (timedOut) return transient(`timed out ${when} ${label} (no data for ${timeoutMs} ms)`);
    // A refused address (this hop or a redirect's) says nothing about what listens there; only a setting can change it.
    if (isAddressNotAllowed(err)) return permanent(`cannot connect to ${label}: ${(err as Error).message}`);
    const code = transientNetworkCode(err);
    const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
    const details = e.cause?.message ?? String(e.message);
    const errCode = e.cause?.code ?? e.code ?? '';
    if (!code && /CERT|SSL|TLS/i.test(`${errCode} ${details}`)) {
      return permanent(`TLS error ${when} ${label}: ${errCode || details}`, details, err);
    }
    // HTTP clients refuse some ports outright (the WHATWG "bad port" list: 9, 25, 6000 …): retrying cannot help.
    if (err instanceof BadPortError) {
      return permanent(`${label} uses a port that HTTP clients refuse (fetch "bad port" list); serve it on another port`, details, err);
    }
    // Anything else that breaks a fetch is a network condition worth retrying.
    return transient(`connection failed ${when} ${label}: ${code ?? details}`, details, err);
  };
  if (signal.aborted) {
    cleanup();
    throw cancelled();
  }
  let res: GuardedResponse;
  try {
    res = await guardedGet(url, { headers, policy, signal: ac.signal });
  } catch (err) {
    cleanup();
    throw fail(err, 'while connecting to');
  }
  if (res.status < 200 || res.status >= 300) {
    cleanup();
    res.body.destroy();
    const what = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${label}`;
    // 408/429 say "try again later" in 4xx clothing.
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw transient(what);
    throw permanent(what);
  }
  const len = Number(res.headers.get('content-length'));
  // With a content encoding, Content-Length counts compressed bytes, useless for progress.
  const size = Number.isFinite(len) && len >= 0 && !res.headers.get('content-encoding') ? len : null;
  const body: Readable = res.body;
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of body) {
        // The timer only measures silence of the server, not time spent by our consumer between chunks.
        clearTimeout(timer);
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        arm();
      }
    } catch (err) {
      throw fail(err, 'while reading');
    } finally {
      cleanup();
      body.destroy();
    }
  }
  arm();
  return { chunks: chunks(), size };
}

/**
 * fetch refuses URLs with credentials: moves `user:password@` of `url` (in place) into a Basic
 * `authorization` header, unless the caller already set one.
 */
export function moveCredentialsToHeader(url: URL, headers: Headers): void {
  if (!url.username && !url.password) return;
  if (!headers.has('authorization')) {
    const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.set('authorization', `Basic ${Buffer.from(userinfo).toString('base64')}`);
  }
  url.username = '';
  url.password = '';
}
