/**
 * HTTP(S) GETs for sources, confined by an {@link AddressPolicy}: every connection (the first and
 * each redirect's) goes through {@link guardedLookup}, IP literals are checked before connecting,
 * and redirects are followed here, one hop at a time, so that each hop is checked again. Bodies
 * encoded with gzip, deflate or br are decoded, as fetch does.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { AddressPolicy } from './address-policy';
import { guardedLookup, refusedLiteral } from './guarded-connect';

/** Redirects followed before a request fails. */
export const MAX_REDIRECTS = 10;

/** A response whose headers have arrived; `body` streams the (decoded) content. */
export interface GuardedResponse {
  status: number;
  statusText: string;
  headers: Headers;
  /** The URL that answered (after redirects). */
  url: URL;
  body: Readable;
}

/**
 * Ports HTTP clients refuse whatever the address (the WHATWG fetch "bad port" list: SMTP, IRC, NFS
 * …), so that a source cannot speak HTTP to another protocol's server. As fetch did before.
 */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** The error for a port on fetch's "bad port" list (its message is fetch's: `bad port`). */
export class BadPortError extends Error {
  readonly code = 'ERR_BAD_PORT';
  constructor() {
    super('bad port');
    this.name = 'BadPortError';
  }
}

/** Headers not sent on to another origin after a redirect (fetch drops these too). */
const ORIGIN_BOUND = ['authorization', 'cookie', 'proxy-authorization'];

function once(url: URL, headers: Headers, policy: AddressPolicy, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  const refused = refusedLiteral(url.hostname, policy);
  if (refused) return Promise.reject(refused);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (BAD_PORTS.has(port)) return Promise.reject(new BadPortError());
  const get = url.protocol === 'https:' ? https.get : http.get;
  const plain: Record<string, string> = {};
  headers.forEach((value, name) => (plain[name] = value));
  return new Promise((resolve, reject) => {
    const req = get(url, { headers: plain, lookup: guardedLookup(policy), signal }, resolve);
    req.on('error', reject);
  });
}

function decode(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : null;
  if (!decoder) return res;
  res.on('error', (err) => decoder.destroy(err));
  decoder.on('close', () => res.destroy());
  return res.pipe(decoder);
}

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/**
 * GETs `url` with `headers`, following up to {@link MAX_REDIRECTS} redirects (each hop checked
 * against `policy`). Rejects with {@link AddressNotAllowedError} for a refused address (the first
 * or any later hop), {@link BadPortError} for a port on fetch's bad-port list, with the socket's error (its `code`: ECONNREFUSED, ENOTFOUND, CERT_…) when a
 * connection fails, with an AbortError when `signal` aborts, and with an Error for too many or
 * malformed redirects.
 */
export async function guardedGet(
  url: URL,
  opts: { headers?: Headers; policy: AddressPolicy; signal?: AbortSignal; maxRedirects?: number },
): Promise<GuardedResponse> {
  let current = new URL(url);
  const headers = new Headers(opts.headers);
  if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'gzip, deflate, br');
  for (let hop = 0; ; hop++) {
    const res = await once(current, headers, opts.policy, opts.signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status < 300 || status >= 400 || status === 304 || !location) {
      return { status, statusText: res.statusMessage ?? '', headers: toHeaders(res.headers), url: current, body: decode(res) };
    }
    res.resume();
    res.destroy();
    if (hop >= (opts.maxRedirects ?? MAX_REDIRECTS)) throw new Error(`more than ${opts.maxRedirects ?? MAX_REDIRECTS} redirects`);
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new Error('a redirect to an invalid URL');
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new Error(`a redirect to an unsupported scheme ${next.protocol}`);
    if (next.origin !== current.origin) for (const h of ORIGIN_BOUND) headers.delete(h);
    current = next;
  }
}
