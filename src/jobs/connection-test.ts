/**
 * `testSourceConnection`: can this gateway reach a source, and what does its data look like?
 * Every probe is bounded by a timeout (default 5 s), reads as little as it can (a few KB of a
 * file, the response headers of a URL, `select 1`, topic metadata), and never writes anything.
 * Messages are scrubbed of every secret in the params (passwords, header values, URL userinfo).
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { Client, type ClientConfig } from 'pg';
import type { ConnectionTestResultView } from '../api';
import { DataFormat, SourceType, type SourceConfig } from '../domain';
import { TimeoutError, coerceError, withTimeout } from '../errors';
import { inferColumns, sqlTypeOfKind } from '../backends/local/ingest/infer';
import { IngestError } from '../backends/local/ingest/errors';
import { formatFromExtension, sniffFormat, type ConcreteFormat } from '../backends/local/ingest/formats';
import { sampleRecords, type RecordSample } from '../backends/local/ingest/sample';
import { assertWithinRoots, openWithinRoots } from '../backends/local/ingest/roots';
import { listLocalFiles, moveCredentialsToHeader, redactUrl, type SourceAccess } from '../backends/local/ingest/sources';
import { ALLOW_ALL, isAddressNotAllowed, type AddressPolicy } from '../net/address-policy';
import { guardedKafkaSocketFactory, guardedPgStream } from '../net/guarded-connect';
import { guardedGet } from '../net/guarded-http';
import { checkLocalRoots } from './source-access';
import type { Logger } from '../logger';
import type { SourceConfigInput } from './job-input';
import { validateSource } from './job-validation';
import { scrubSecrets, secretValues } from './secrets';

export const CONNECTION_TEST_TIMEOUT_MS = 5000;
/** The reason given for a refused address (see src/net/address-policy.ts). */
const NOT_ALLOWED =
  'address not allowed (sources may not reach loopback, link-local or private networks unless SOURCE_ALLOWED_NETWORKS allows them)';
/** Bytes of a file read to sample its schema. */
const HEAD_BYTES = 16 * 1024;

interface Outcome {
  ok: boolean;
  message: string;
  sampleSchema?: unknown;
  untested?: boolean;
}
/** What a tester may reach: directories (null: any) and addresses. */
interface Reach {
  roots: readonly string[] | null;
  networks: AddressPolicy;
}
type Tester = (source: SourceConfig, timeoutMs: number, reach: Reach) => Promise<Outcome>;

/** A short reason from a network or driver error: its code when it has one. */
function reason(err: unknown): string {
  if (err instanceof TimeoutError) return err.message;
  // One message for a refused address, however the driver wrapped it: nothing about the port behind it.
  if (isAddressNotAllowed(err)) return NOT_ALLOWED;
  // Duck-typed rather than `instanceof Error`: errors of Node's internals may come from another realm.
  const e = (typeof err === 'object' && err !== null ? err : { message: coerceError(err).message }) as {
    message?: string;
    code?: string;
    cause?: { code?: string; message?: string };
  };
  const message = String(e.message ?? 'unknown error');
  const code = e.cause?.code ?? e.code;
  const msg = e.cause?.message && message === 'fetch failed' ? e.cause.message : message;
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

async function readHead(file: string, roots: readonly string[] | null): Promise<{ text: string; truncated: boolean }> {
  const fh = await openWithinRoots(file, roots);
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), truncated: bytesRead === HEAD_BYTES };
  } finally {
    await fh.close();
  }
}

/** Records to sample (after a CSV header). */
const SAMPLE_RECORDS = 20;

/** The format the LOCAL executor would read `name` as (format AUTO): its extension, then its first bytes. */
function sniff(name: string, text: string): ConcreteFormat | 'PARQUET' {
  const format = formatFromExtension(name) ?? sniffFormat(text) ?? 'CSV';
  return format === 'AUTO' ? 'CSV' : format;
}

interface Sample {
  schema: { format: DataFormat; columns: { name: string; type: string }[] | null };
  note?: string;
}

/**
 * The columns of a file from its first bytes, read with the LOCAL executor's own parsers and typed
 * with its type inference: the CSV header (names as written), or the keys of the first JSON
 * objects. Records an ingest would count as bad rows do not vote. Best effort: a first record longer
 * than the sample, or a start an ingest would refuse, gives no columns and a note saying why.
 */
export function sampleFileSchema(text: string, truncated: boolean, name: string): Sample {
  const sniffed = sniff(name, text.replace(/^\uFEFF/, ''));
  const format = sniffed as DataFormat;
  if (sniffed === 'PARQUET') return { schema: { format, columns: null }, note: 'PARQUET is read by the SPARK backend only' };
  let sample: RecordSample;
  try {
    sample = sampleRecords(text, sniffed, SAMPLE_RECORDS, { truncated });
  } catch (err) {
    return { schema: { format, columns: null }, note: `the start of the file is not valid ${format}: ${coerceError(err).message}` };
  }
  const { kinds, keys } = inferColumns(sniffed, sample.header, sample.records, true);
  const names = sniffed === 'CSV' ? (sample.header ?? []) : keys;
  if (names.length === 0) {
    const bad = sample.bad[0];
    const note = bad
      ? `the start of the file is not valid ${format}: line ${bad.line}: ${bad.reason}`
      : 'no complete record in the first KB';
    return { schema: { format, columns: null }, note };
  }
  return { schema: { format, columns: names.map((n, i) => ({ name: n, type: sqlTypeOfKind(kinds[i]) })) } };
}

/** The files a LOCAL source names, listed and confined exactly as the LOCAL executor does; a string says why not. */
async function localFiles(p: string, filePattern: string | null, roots: readonly string[] | null): Promise<string[] | string> {
  try {
    const files = await listLocalFiles(p, filePattern);
    assertWithinRoots(files, roots);
    return files;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `${p} does not exist`;
    return err instanceof IngestError ? err.message : `cannot access ${p}: ${code ?? reason(err)}`;
  }
}

const testLocal: Tester = async (source, timeoutMs, { roots }) => {
  const p = source.params.path as string;
  const files = await withTimeout(localFiles(p, source.filePattern, roots), timeoutMs, 'the file system');
  if (typeof files === 'string') return { ok: false, message: files };
  if (files.length === 0)
    return { ok: false, message: `no file matches ${p}${source.filePattern ? ` (filePattern ${source.filePattern})` : ''}` };
  const first = files[0];
  try {
    await access(first, fsConstants.R_OK);
  } catch (err) {
    return { ok: false, message: `cannot read ${first}: ${(err as NodeJS.ErrnoException).code ?? reason(err)}` };
  }
  let head: { text: string; truncated: boolean };
  try {
    head = await readHead(first, roots);
  } catch (err) {
    return { ok: false, message: err instanceof IngestError ? err.message : `cannot read ${first}: ${reason(err)}` };
  }
  const sample = sampleFileSchema(head.text, head.truncated, first);
  const count = files.length === 1 ? '1 file' : `${files.length} files`;
  return { ok: true, message: `${count} readable; sampled ${first}${sample.note ? ` (${sample.note})` : ''}`, sampleSchema: sample.schema };
};

/** fetch refuses URLs with credentials: like the LOCAL executor, send them as Basic auth unless Authorization is set. */
function httpRequest(params: Record<string, unknown>): { url: URL; headers: Headers } {
  const url = new URL(params.url as string);
  const headers = new Headers(params.headers as Record<string, string> | undefined);
  moveCredentialsToHeader(url, headers);
  return { url, headers };
}

const testHttp: Tester = async (source, timeoutMs, { networks }) => {
  const shown = redactUrl(source.params.url as string);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const { url, headers } = httpRequest(source.params);
    // Redirects are followed one hop at a time, each checked against SOURCE_ALLOWED_NETWORKS.
    const res = await guardedGet(url, { headers, policy: networks, signal: controller.signal });
    // Headers are all a test needs: do not download the body.
    res.body.destroy();
    const type = res.headers.get('content-type');
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${shown}`;
    return { ok: res.status >= 200 && res.status < 300, message: type ? `${status} (${type.split(';')[0]})` : status };
  } catch (err) {
    if (controller.signal.aborted && !isAddressNotAllowed(err))
      return { ok: false, message: `no response from ${shown} within ${timeoutMs / 1000} s` };
    return { ok: false, message: `cannot reach ${shown}: ${reason(err)}` };
  } finally {
    clearTimeout(timer);
  }
};

function pgConfig(p: Record<string, unknown>, timeoutMs: number, networks: AddressPolicy): ClientConfig {
  const common = {
    // Every connection (a connection string's host, or a unix socket) goes through the address policy.
    stream: guardedPgStream(networks),
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'jobwire-connection-test',
  };
  if (typeof p.connectionString === 'string') return { ...common, connectionString: p.connectionString };
  return {
    ...common,
    host: p.host as string,
    port: (p.port as number | undefined) ?? 5432,
    database: p.database as string,
    user: p.user as string | undefined,
    password: p.password as string | undefined,
  };
}

const testPostgres: Tester = async (source, timeoutMs, { networks }) => {
  const p = source.params;
  const client = new Client(pgConfig(p, timeoutMs, networks));
  client.on('error', () => undefined); // a dropped connection surfaces through the awaited query instead
  try {
    await withTimeout(client.connect(), timeoutMs + 500, 'PostgreSQL');
    await client.query('select 1');
    if (typeof p.table === 'string') {
      const [schema, table] = p.table.includes('.') ? p.table.split('.') : [null, p.table];
      const cols = await client.query(
        `select column_name as name, data_type as type from information_schema.columns
          where table_schema = coalesce($1::text, current_schema()) and table_name in ($2::text, lower($2::text)) order by ordinal_position`,
        [schema, table],
      );
      if (cols.rowCount === 0)
        return { ok: false, message: `connected, but table ${p.table} does not exist or is not visible to this user` };
      return { ok: true, message: `connected; table ${p.table} has ${cols.rowCount} columns`, sampleSchema: { columns: cols.rows } };
    }
    // Describe the query without running it: zero rows, read-only, one statement (extended protocol).
    await client.query('begin read only');
    try {
      const text = `select * from (${String(p.query)
        .trim()
        .replace(/;+\s*$/, '')}) as q limit 0`;
      const res = await client.query({ text, queryMode: 'extended' } as never);
      const fields = (res as unknown as { fields: { name: string; dataTypeID: number }[] }).fields;
      const types = await client.query('select oid::int as oid, format_type(oid, null) as type from pg_type where oid = any($1)', [
        fields.map((f) => f.dataTypeID),
      ]);
      const byOid = new Map(types.rows.map((r: { oid: number; type: string }) => [r.oid, r.type]));
      return {
        ok: true,
        message: `connected; the query returns ${fields.length} columns`,
        sampleSchema: { columns: fields.map((f) => ({ name: f.name, type: byOid.get(f.dataTypeID) ?? null })) },
      };
    } finally {
      await client.query('rollback').catch(() => undefined);
    }
  } catch (err) {
    return { ok: false, message: `PostgreSQL: ${reason(err)}` };
  } finally {
    await client.end().catch(() => undefined);
  }
};

const testKafka: Tester = async (source, timeoutMs, { networks }) => {
  const p = source.params;
  const topic = p.topic as string;
  const kafka = new Kafka({
    clientId: 'jobwire-connection-test',
    brokers: p.brokers as string[],
    connectionTimeout: Math.min(3000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
    ssl: p.ssl === true ? true : undefined,
    sasl: (p.sasl ?? undefined) as SASLOptions | undefined,
    // Every broker connection, the seed brokers' and those metadata points to, is checked.
    socketFactory: guardedKafkaSocketFactory(networks) as never,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await withTimeout(admin.connect(), timeoutMs, 'Kafka');
    // listTopics, not fetchTopicMetadata alone: asking for a missing topic's metadata can create it.
    const topics = await withTimeout(admin.listTopics(), timeoutMs, 'Kafka');
    if (!topics.includes(topic)) return { ok: false, message: `connected, but topic ${topic} does not exist` };
    const meta = await withTimeout(admin.fetchTopicMetadata({ topics: [topic] }), timeoutMs, 'Kafka');
    const partitions = meta.topics[0]?.partitions.length ?? 0;
    return { ok: true, message: `connected; topic ${topic} has ${partitions} partition${partitions === 1 ? '' : 's'}` };
  } catch (err) {
    return { ok: false, message: `Kafka: ${reason(err)}` };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};

const untestable =
  (type: SourceType): Tester =>
  async () => ({
    ok: false,
    untested: true,
    message: `this gateway cannot test ${type} sources yet; the parameters are well-formed`,
  });

const TESTERS: Record<SourceType, Tester> = {
  LOCAL: testLocal,
  HTTP: testHttp,
  POSTGRES: testPostgres,
  KAFKA: testKafka,
  S3: untestable(SourceType.S3),
  SFTP: untestable(SourceType.SFTP),
};

/**
 * Validates `input` like createJob does (BAD_USER_INPUT on `input.params.…`, also for a LOCAL path
 * outside `deps.access.allowedRoots`), then probes the source, connecting only where
 * `deps.access.allowedNetworks` allows (a refused address: `ok: false`, "address not allowed", the
 * same whether anything listens there). Absent `access`: no restriction. Never throws for an unreachable source: that is `ok: false` with a message saying why.
 * `latencyMs` is how long the probe took (null when nothing was probed, as for S3 and SFTP).
 */
export async function testSourceConnection(
  input: SourceConfigInput,
  deps: { logger: Logger; timeoutMs?: number; access?: SourceAccess },
): Promise<ConnectionTestResultView> {
  const source = validateSource(input, 'input');
  const reach: Reach = { roots: deps.access?.allowedRoots ?? null, networks: deps.access?.allowedNetworks ?? ALLOW_ALL };
  checkLocalRoots(source, reach.roots, 'input.params.path');
  const timeoutMs = deps.timeoutMs ?? CONNECTION_TEST_TIMEOUT_MS;
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = await TESTERS[source.type](source, timeoutMs, reach);
  } catch (err) {
    outcome = { ok: false, message: reason(err) };
  }
  const latencyMs = outcome.untested ? null : Math.round(performance.now() - started);
  const message = scrubSecrets(outcome.message, secretValues(source.params));
  deps.logger.debug({ component: 'connection-test', sourceType: source.type, ok: outcome.ok, latencyMs }, 'source connection tested');
  return { ok: outcome.ok, message, latencyMs, sampleSchema: outcome.sampleSchema ?? null };
}
