import fs from 'node:fs';
import type { Json, JsonObject } from '../../src/domain';
import { coerceError } from '../../src/errors';
import { MASK, scrubSecrets, secretValues } from '../../src/jobs/secrets';

/**
 * The source parameters a `start` command leaves out (jobwire never sends secrets over Kafka),
 * as this worker's operator provides them: a JSON file (`WORKER_SECRETS_FILE`) of one object per
 * job id, deep-merged into that job's `source.params`:
 *
 * ```json
 * { "98ef0b9b-eaba-448b-8059-cc6f8f964fb9": { "headers": { "Authorization": "Bearer …" } } }
 * ```
 *
 * Every value in the file counts as a secret, whatever its name: it is scrubbed from every log line,
 * stage message and error the worker reports, as a second line of defence (the engine's messages
 * never quote parameters in the first place).
 */
export interface WorkerSecrets {
  /** `params` with the job's secrets merged in (the file wins; nested objects merge). A new object; `params` is not changed. */
  apply(jobId: string, params: JsonObject): JsonObject;
  /** The strings to scrub from what is reported about a run of `jobId` (the file's values, and secrets found in its params). */
  valuesFor(jobId: string, params: JsonObject): string[];
  /** How many jobs the file names (for the start-up log; never the values). */
  readonly jobs: number;
}

/** What a malformed secrets file is refused with. The message names the file and the job id, never a value. */
export class SecretsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`WORKER_SECRETS_FILE ${file}: ${problem}`);
    this.name = 'SecretsFileError';
  }
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: JsonObject, extra: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    // JSON.parse makes "__proto__" an own key; assigning it would replace the prototype.
    if (k === '__proto__') continue;
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function leaves(v: Json, out: string[]): string[] {
  if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
  else if (Array.isArray(v)) v.forEach((x) => leaves(x, out));
  else if (isObject(v)) Object.values(v).forEach((x) => leaves(x, out));
  return out;
}

/** Secrets from an object already parsed (`{ jobId: { param: value } }`); see {@link loadWorkerSecrets}. */
export function makeWorkerSecrets(byJob: Readonly<Record<string, JsonObject>> = {}): WorkerSecrets {
  return {
    jobs: Object.keys(byJob).length,
    apply: (jobId, params) => (byJob[jobId] ? merge(params, byJob[jobId]) : { ...params }),
    valuesFor(jobId, params) {
      const own = byJob[jobId] ? leaves(byJob[jobId], []) : [];
      // Short values are left out: scrubbing "1" would garble unrelated text.
      return [...new Set([...own, ...secretValues(params)])].filter((s) => s.length >= 4 && s !== MASK);
    },
  };
}

/**
 * Reads and validates `file` (once, at start: restart the worker after changing it). Unset: no
 * secrets. Throws {@link SecretsFileError} when the file cannot be read, is not JSON, or is not an
 * object of objects keyed by job id. Returns a warning to log when the file is readable by other
 * users than its owner.
 */
export function loadWorkerSecrets(file: string | undefined): { secrets: WorkerSecrets; warning?: string } {
  if (!file) return { secrets: makeWorkerSecrets() };
  let text: string;
  let mode: number;
  try {
    text = fs.readFileSync(file, 'utf8');
    mode = fs.statSync(file).mode;
  } catch (err) {
    const e = coerceError(err) as NodeJS.ErrnoException;
    throw new SecretsFileError(file, `cannot be read (${e.code ?? e.message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a secret.
    throw new SecretsFileError(file, 'is not valid JSON');
  }
  if (!isObject(parsed)) throw new SecretsFileError(file, 'must be a JSON object { "<jobId>": { "<param>": <value> } }');
  for (const [jobId, params] of Object.entries(parsed)) {
    if (!isObject(params)) throw new SecretsFileError(file, `the entry of job ${JSON.stringify(jobId)} must be an object of source params`);
  }
  const warning =
    (mode & 0o077) !== 0
      ? `WORKER_SECRETS_FILE ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`
      : undefined;
  return { secrets: makeWorkerSecrets(parsed as Record<string, JsonObject>), warning };
}

/** `text` without any of `secrets` (each replaced by `***`). */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.length ? scrubSecrets(text, secrets) : text;
}
