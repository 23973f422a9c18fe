/**
 * Secrets in job parameters: recognising them, masking them for every view that leaves the core,
 * and restoring them when a client sends a masked value back in an update.
 *
 * A secret is any value under a key whose name says so (password, passwd, pwd, pass, passphrase,
 * secret, token, key — apikey, api_key, accessKey …, credential(s), auth — authorization, oauth …,
 * private, session, sas, signature, cookie; case-insensitive), every value under a `headers`
 * object, the password (and secret-named query parameters) of a URL-valued string such as
 * `postgres://user:pw@host/db`, and the secret of a `key=value` connection string
 * (`host=db password=pw`, `Server=x;Password=pw;`).
 */
import type { Json, JsonObject } from '../domain';
import { badInput } from '../errors';

/** What every secret is replaced with. */
export const MASK = '***';

const SECRET_KEY =
  /pass(?:word|wd|phrase)?(?![a-z])|pwd|secret|token|key|credential|auth|private|session|sas(?![a-z])|sas[_-]?token|signature|cookie/i;

// `password=…` inside a libpq, JDBC or ADO.NET connection string (space, `;` or `&` separated; quoted or not).
const KEY_VALUE_SECRET =
  /(\b(?:password|passwd|pwd|pass|passphrase|secret|token|api[_-]?key|access[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|sig|signature|sslpassword)\s*=\s*)('[^']*'|"[^"]*"|[^\s;&'"]+)/gi;

/** `text` with the secrets of `key=value` connection strings replaced by `***` (`password=pw` → `password=***`). */
export function maskKeyValueSecrets(text: string): string {
  return text.replace(KEY_VALUE_SECRET, `$1${MASK}`);
}

/**
 * Whether a parameter name holds a secret. Deliberately broad: `accessKeyId`, `privateKey` and
 * `keySizeBits` match too — masking a harmless value costs a little clarity, leaking one costs more.
 */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}

const URL_START = /^[a-z][a-z0-9+.-]*:\/\//i;

interface UrlParts {
  head: string;
  user: string;
  password: string | null;
  tail: string;
}

/** Splits `scheme://user:password@host…` without normalising anything (URL() would re-encode). */
function splitUrl(s: string): UrlParts | null {
  const m = URL_START.exec(s);
  if (!m) return null;
  const start = m[0].length;
  const rel = s.slice(start).search(/[/?#]/);
  const authorityEnd = rel === -1 ? s.length : start + rel;
  const at = s.lastIndexOf('@', authorityEnd - 1);
  if (at < start) return { head: s.slice(0, start), user: '', password: null, tail: s.slice(start) };
  const userinfo = s.slice(start, at);
  const colon = userinfo.indexOf(':');
  return {
    head: s.slice(0, start),
    user: colon === -1 ? userinfo : userinfo.slice(0, colon),
    password: colon === -1 ? null : userinfo.slice(colon + 1),
    tail: s.slice(at),
  };
}

/** Masks secret-named query parameters (`?password=…&sslkey=…`) of a URL's tail. */
function maskQuery(tail: string): string {
  const q = tail.indexOf('?');
  if (q === -1) return tail;
  const hash = tail.indexOf('#', q);
  const end = hash === -1 ? tail.length : hash;
  const query = tail
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        // Keep the raw name: a malformed escape must not stop masking.
      }
      return isSecretKey(name) ? `${pair.slice(0, eq)}=${MASK}` : pair;
    })
    .join('&');
  return `${tail.slice(0, q + 1)}${query}${tail.slice(end)}`;
}

/**
 * A string with the password of a URL (and its secret-named query parameters) replaced by `***`:
 * `postgres://app:pw@db/x` → `postgres://app:***@db/x`. Strings that are not URLs come back unchanged.
 */
export function maskUrlSecrets(s: string): string {
  const parts = splitUrl(s);
  if (!parts) return s;
  const userinfo = parts.password === null ? parts.user : `${parts.user}:${MASK}`;
  const tail = maskQuery(parts.tail);
  return parts.tail.startsWith('@') ? `${parts.head}${userinfo}${tail}` : `${parts.head}${tail}`;
}

/** A string value as views show it: URL passwords and connection-string secrets masked. */
const maskString = (s: string) => maskKeyValueSecrets(maskUrlSecrets(s));

function maskValue(value: Json, secret: boolean): Json {
  if (secret) return value === null ? null : MASK;
  if (typeof value === 'string') return maskString(value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, false));
  if (value !== null && typeof value === 'object') return maskObject(value);
  return value;
}

function maskObject(obj: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k.toLowerCase() === 'headers' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      // Header values are secrets whatever their names (Authorization, X-Api-Key, Cookie …).
      out[k] = Object.fromEntries(Object.keys(v).map((h) => [h, v[h] === null ? null : MASK]));
    } else {
      out[k] = maskValue(v, isSecretKey(k));
    }
  }
  return out;
}

/**
 * A deep copy of `params` with every secret replaced by `"***"` (objects and arrays at any depth).
 * Never throws; the input is not modified. `null` stays `null` (there is no secret to hide).
 */
export function maskParams<T extends JsonObject | null | undefined>(params: T): T {
  if (params === null || params === undefined) return params;
  return maskObject(params) as T;
}

/**
 * A deep copy of `params` with every secret left out: keys that name a secret are dropped, and so
 * are headers (every header value is a secret); a URL keeps its password as `"***"` (a worker
 * supplies the URL itself when it needs one). What goes to an external worker, which brings the
 * secrets from its own environment. The input is not modified.
 */
export function withoutSecrets(params: JsonObject): JsonObject {
  const masked = maskParams(params);
  const strip = (o: JsonObject): JsonObject => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(o)) {
      if (v === MASK) continue;
      if (k.toLowerCase() === 'headers') continue;
      else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = strip(v as JsonObject);
      else out[k] = v;
    }
    return out;
  };
  return strip(masked);
}

/**
 * Every secret value in `params` (for scrubbing error messages that might echo one).
 * Short values (under 4 characters) are left out: replacing them would garble unrelated text.
 */
export function secretValues(params: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, secret: boolean) => {
    if (typeof v === 'string') {
      if (secret) out.add(v);
      const pw = splitUrl(v)?.password;
      if (pw) {
        out.add(pw);
        try {
          out.add(decodeURIComponent(pw));
        } catch {
          // The raw form is already recorded.
        }
      }
    } else if (typeof v === 'number' && secret) {
      out.add(String(v));
    } else if (Array.isArray(v)) {
      v.forEach((x) => walk(x, secret));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, secret || isSecretKey(k) || k.toLowerCase() === 'headers');
    }
  };
  walk(params, false);
  return [...out].filter((s) => s.length >= 4 && s !== MASK);
}

/** `text` with every occurrence of the given secrets replaced by `***`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}

/** Puts the stored URL password back into an incoming URL whose password is the mask. */
function restoreUrl(incoming: string, stored: Json | undefined): string {
  const inc = splitUrl(incoming);
  if (!inc || inc.password !== MASK || typeof stored !== 'string') return incoming;
  const old = splitUrl(stored);
  if (!old || old.password === null) return incoming;
  let tail = inc.tail;
  // Secret query parameters masked in the view come back from the stored URL too.
  if (maskQuery(old.tail) === tail) tail = old.tail;
  return `${inc.head}${inc.user}:${old.password}${tail}`;
}

function mergeValue(stored: Json | undefined, incoming: Json, secret: boolean, path: string): Json {
  if (incoming === MASK && secret) {
    if (stored === undefined || stored === null || stored === MASK) {
      throw badInput(path, `is "${MASK}", the mask of a stored secret, but no secret is stored here; send the real value`);
    }
    return stored;
  }
  if (typeof incoming === 'string') {
    if (typeof stored === 'string' && incoming !== stored && maskString(stored) === incoming) return stored;
    return restoreUrl(incoming, stored);
  }
  if (Array.isArray(incoming)) {
    const old = Array.isArray(stored) ? stored : [];
    return incoming.map((v, i) => mergeValue(old[i], v, secret, `${path}[${i}]`));
  }
  if (incoming !== null && typeof incoming === 'object') {
    const old = stored !== null && typeof stored === 'object' && !Array.isArray(stored) ? stored : {};
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(incoming)) {
      const childSecret = secret || isSecretKey(k);
      const isHeaders = k.toLowerCase() === 'headers' && v !== null && typeof v === 'object' && !Array.isArray(v);
      if (isHeaders) {
        const oldHeaders = (old[k] ?? {}) as JsonObject;
        out[k] = Object.fromEntries(Object.entries(v).map(([h, hv]) => [h, mergeValue(oldHeaders[h], hv, true, `${path}.${k}.${h}`)]));
      } else {
        out[k] = mergeValue(old[k], v, childSecret, `${path}.${k}`);
      }
    }
    return out;
  }
  return incoming;
}

/**
 * For updates: `incoming` with every masked secret (`"***"`, or a URL whose password is `***`)
 * replaced by the value stored at the same place, so a client that round-trips the params it was
 * shown does not destroy the secrets. Keys absent from `incoming` are dropped (it is the new value).
 * Throws BAD_USER_INPUT (field `path.<key>`) for a `"***"` where nothing is stored to restore.
 */
export function mergeMaskedParams(stored: JsonObject | null | undefined, incoming: JsonObject, path = 'input.source.params'): JsonObject {
  return mergeValue(stored ?? {}, incoming, false, path) as JsonObject;
}
