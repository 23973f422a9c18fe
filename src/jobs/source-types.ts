/**
 * Source types: what each can read (formats, batch, streaming) and the shape of its `params`
 * (shared/design/DESIGN.md, "Source parameters"). Error messages never echo a param's value:
 * any of them may be a secret.
 */
import type { SourceTypeInfoView } from '../api';
import type { Backend } from '../backends/backend';
import { DataFormat, ProcessingMode, SourceType, type JsonObject } from '../domain';
import { badInput } from '../errors';

/**
 * What each source type can do in this gateway: the union over the backends that are available
 * here and execute it (its formats, batch and/or streaming), and which backends those are. A type
 * no backend here executes is listed with nothing.
 */
export function sourceTypes(backends: readonly Pick<Backend, 'kind' | 'sources' | 'unavailableReason'>[]): SourceTypeInfoView[] {
  const here = backends.filter((b) => b.unavailableReason() === null);
  return Object.values(SourceType).map((type) => {
    const caps = here.flatMap((b) => b.sources.filter((c) => c.type === type).map((c) => ({ backend: b.kind, cap: c })));
    const formats = Object.values(DataFormat).filter((f) => caps.some(({ cap }) => cap.formats.includes(f)));
    return {
      type,
      formats,
      batch: caps.some(({ cap }) => cap.modes.includes(ProcessingMode.BATCH)),
      streaming: caps.some(({ cap }) => cap.modes.includes(ProcessingMode.STREAMING)),
      backends: [...new Set(caps.map((c) => c.backend))],
    };
  });
}

/** Largest accepted `params` (serialised JSON). */
export const MAX_PARAMS_BYTES = 64 * 1024;
const MAX_STRING = 4096;

type Obj = Record<string, unknown>;
export const isPlainObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(p: Obj, key: string, path: string, opts: { required?: boolean; max?: number } = {}): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) {
    if (opts.required) throw badInput(`${path}.${key}`, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') throw badInput(`${path}.${key}`, 'must be a non-empty string');
  if (v.length > (opts.max ?? MAX_STRING)) throw badInput(`${path}.${key}`, `must be at most ${opts.max ?? MAX_STRING} characters`);
  return v;
}

function port(p: Obj, path: string): void {
  const v = p.port;
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
    throw badInput(`${path}.port`, 'must be an integer between 1 and 65535');
}

function url(p: Obj, key: string, path: string, protocols: string[], required: boolean): void {
  const v = str(p, key, path, { required });
  if (v === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw badInput(`${path}.${key}`, `must be an absolute URL (${protocols.join(' or ')})`);
  }
  if (!protocols.includes(parsed.protocol.slice(0, -1))) throw badInput(`${path}.${key}`, `must use ${protocols.join(' or ')}`);
  if (!parsed.hostname) throw badInput(`${path}.${key}`, 'must name a host');
}

const HOST_PORT = /^[^\s:/]+:(\d{1,5})$/;
// A qualified name for a table: `table` or `schema.table`, letters, digits, `_` and `$`.
const QUALIFIED_TABLE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/;
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const CHECKS: Record<SourceType, (p: Obj, path: string) => void> = {
  LOCAL(p, path) {
    str(p, 'path', path, { required: true });
  },
  HTTP(p, path) {
    url(p, 'url', path, ['http', 'https'], true);
    const h = p.headers;
    if (h === undefined || h === null) return;
    if (!isPlainObject(h)) throw badInput(`${path}.headers`, 'must be an object of header names to string values');
    for (const [name, value] of Object.entries(h)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
        throw badInput(`${path}.headers`, `${JSON.stringify(name.slice(0, 100))} is not a valid header name`);
      if (typeof value !== 'string' || /[\r\n\0]/.test(value))
        throw badInput(`${path}.headers.${name}`, 'must be a string without line breaks');
    }
  },
  POSTGRES(p, path) {
    if (p.connectionString !== undefined && p.connectionString !== null) {
      url(p, 'connectionString', path, ['postgres', 'postgresql'], true);
    } else if (p.host !== undefined && p.host !== null) {
      str(p, 'host', path, { required: true, max: 255 });
      str(p, 'database', path, { required: true, max: 63 });
      str(p, 'user', path, { max: 63 });
      port(p, path);
      if (p.password !== undefined && p.password !== null && typeof p.password !== 'string')
        throw badInput(`${path}.password`, 'must be a string');
    } else {
      throw badInput(`${path}.connectionString`, 'give connectionString (postgres://…) or host and database');
    }
    const table = str(p, 'table', path, { max: 127 });
    const query = str(p, 'query', path, { max: 100_000 });
    if (table === undefined && query === undefined) throw badInput(`${path}.table`, 'give table or query');
    if (table !== undefined && query !== undefined) throw badInput(`${path}.query`, 'give table or query, not both');
    if (table !== undefined && !QUALIFIED_TABLE.test(table))
      throw badInput(`${path}.table`, 'must be table or schema.table (letters, digits, _ and $)');
  },
  KAFKA(p, path) {
    const b = p.brokers;
    if (!Array.isArray(b) || b.length === 0) throw badInput(`${path}.brokers`, 'must be a non-empty array of host:port strings');
    b.forEach((x, i) => {
      const m = typeof x === 'string' ? HOST_PORT.exec(x) : null;
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw badInput(`${path}.brokers[${i}]`, 'must be host:port');
    });
    const topic = str(p, 'topic', path, { required: true, max: 249 })!;
    if (!KAFKA_TOPIC.test(topic)) throw badInput(`${path}.topic`, 'must be 1-249 letters, digits, ".", "_" or "-"');
    str(p, 'groupId', path, { max: 255 });
  },
  S3(p, path) {
    const bucket = str(p, 'bucket', path, { required: true, max: 63 })!;
    if (!S3_BUCKET.test(bucket))
      throw badInput(`${path}.bucket`, 'must be a valid S3 bucket name (3-63 lowercase letters, digits, "." or "-")');
    if (p.prefix !== undefined && p.prefix !== null && typeof p.prefix !== 'string') throw badInput(`${path}.prefix`, 'must be a string');
    str(p, 'region', path, { max: 64 });
    const id = str(p, 'accessKeyId', path);
    const secret = str(p, 'secretAccessKey', path);
    if ((id === undefined) !== (secret === undefined)) {
      throw badInput(`${path}.${id === undefined ? 'accessKeyId' : 'secretAccessKey'}`, 'accessKeyId and secretAccessKey go together');
    }
    url(p, 'endpoint', path, ['http', 'https'], false);
  },
  SFTP(p, path) {
    str(p, 'host', path, { required: true, max: 255 });
    port(p, path);
    str(p, 'user', path, { required: true, max: 255 });
    str(p, 'path', path, { required: true });
    const password = str(p, 'password', path);
    const key = str(p, 'privateKey', path, { max: 64 * 1024 });
    if (password === undefined && key === undefined) throw badInput(`${path}.password`, 'give password or privateKey');
  },
};

/**
 * Checks `params` for a source of `type` and returns them as a JSON object (unchanged).
 * Throws BAD_USER_INPUT naming the offending param, e.g. `input.source.params.url`.
 */
export function validateSourceParams(type: SourceType, params: unknown, path: string): JsonObject {
  if (!isPlainObject(params)) throw badInput(path, 'must be a JSON object');
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(params));
  } catch {
    throw badInput(path, 'must be plain JSON');
  }
  if (size > MAX_PARAMS_BYTES) throw badInput(path, `must be at most ${MAX_PARAMS_BYTES} bytes of JSON`);
  CHECKS[type](params, path);
  return params as JsonObject;
}
