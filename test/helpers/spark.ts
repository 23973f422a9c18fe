import fs from 'node:fs';
import path from 'node:path';

/**
 * The real Spark standalone cluster the tests use: its REST submission server,
 * `TEST_SPARK_REST_URL`, default the one `npm run services:up` starts on `127.0.0.1:6066`.
 */
export const SPARK_REST_URL = (process.env.TEST_SPARK_REST_URL ?? 'http://127.0.0.1:6066').replace(/\/+$/, '');
/** The master's web UI (`/json/` lists workers, drivers and applications), `TEST_SPARK_UI_URL`. */
export const SPARK_UI_URL = (process.env.TEST_SPARK_UI_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
/** The master's RPC address, which submitted drivers connect to, `TEST_SPARK_MASTER_URL`. */
export const SPARK_MASTER_URL = process.env.TEST_SPARK_MASTER_URL ?? 'spark://127.0.0.1:7077';

/** What a test prints when the cluster does not answer. */
export const SPARK_DOWN_HINT = `Spark is not reachable at ${SPARK_REST_URL} / ${SPARK_UI_URL}: run npm run services:up (or set TEST_SPARK_REST_URL and TEST_SPARK_UI_URL)`;

const JAR_LINK = path.resolve(__dirname, '../../dist/spark/jobwire-spark.jar');

/** A driver's state as the REST API reports it. */
export type DriverState = 'SUBMITTED' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' | 'ERROR' | 'RELAUNCHING' | 'UNKNOWN';

/** States a driver does not leave. */
export const FINAL_DRIVER_STATES: readonly DriverState[] = ['FINISHED', 'FAILED', 'KILLED', 'ERROR'];

/** The answer of `GET /v1/submissions/status/<id>`. */
export interface DriverStatus {
  driverState: DriverState;
  success: boolean;
  workerId?: string;
  workerHostPort?: string;
  /** Set for ERROR (the cause); FAILED carries none: the cause is in the driver's stderr. */
  message?: string;
}

async function getJson<T>(url: string, timeoutMs = 5000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

async function postJson<T>(url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/**
 * Whether the cluster can take a submission: the master is ALIVE with an ALIVE worker and the REST
 * server answers `readyz`. Never throws.
 */
export async function sparkAvailable(timeoutMs = 5000): Promise<boolean> {
  try {
    const master = await getJson<{ status: string; workers: { state: string }[] }>(`${SPARK_UI_URL}/json/`, timeoutMs);
    if (master.status !== 'ALIVE' || !master.workers.some((w) => w.state === 'ALIVE')) return false;
    const ready = await getJson<{ success: boolean }>(`${SPARK_REST_URL}/v1/submissions/readyz`, timeoutMs);
    return ready.success === true;
  } catch {
    return false;
  }
}

/** Throws an error that says how to start the cluster when it is not ready (use in `beforeAll`). */
export async function requireSpark(): Promise<void> {
  if (!(await sparkAvailable())) throw new Error(SPARK_DOWN_HINT);
}

/**
 * The built jobwire-spark.jar (IngestApp and JobwireListener): the real path behind
 * `dist/spark/jobwire-spark.jar`, a content-addressed file in the cache that a rebuild never
 * changes under a running driver. Throws a hint to run `npm run build:spark` when it is missing.
 */
export function sparkAppJar(): string {
  try {
    return fs.realpathSync(JAR_LINK);
  } catch {
    throw new Error(`${JAR_LINK} is missing: run npm run build:spark`);
  }
}

/** What to submit: an application in cluster mode on the test cluster. */
export interface SubmitOptions {
  mainClass: string;
  /** `spark.app.name`; the master lists applications by it. */
  appName: string;
  /** The application jar, default {@link sparkAppJar}; it is also put in `spark.jars`. */
  appResource?: string;
  appArgs?: string[];
  /** Merged over the defaults (master, cluster mode, app name, jars, driver host, small memory). */
  sparkProperties?: Record<string, string>;
  /** Environment of the driver process: how secrets reach it without showing in its command line. */
  environmentVariables?: Record<string, string>;
}

/**
 * The body of `POST /v1/submissions/create` for {@link submit}: cluster mode, the jar as both the
 * application resource and `spark.jars` (so executors load it too), the driver bound to 127.0.0.1,
 * and driver and executor memory that fit the test worker (1536 MB: 512 MB + 1 GB).
 */
export function createSubmissionRequest(opts: SubmitOptions): Record<string, unknown> {
  const jar = opts.appResource ?? sparkAppJar();
  const jarUrl = jar.startsWith('file:') ? jar : `file://${jar}`;
  return {
    action: 'CreateSubmissionRequest',
    clientSparkVersion: '4.2.0',
    appResource: jarUrl,
    mainClass: opts.mainClass,
    appArgs: opts.appArgs ?? [],
    environmentVariables: opts.environmentVariables ?? {},
    sparkProperties: {
      'spark.master': SPARK_MASTER_URL,
      'spark.submit.deployMode': 'cluster',
      'spark.app.name': opts.appName,
      'spark.jars': jarUrl,
      'spark.driver.host': '127.0.0.1',
      'spark.driver.memory': '512m',
      'spark.executor.memory': '1g',
      'spark.ui.showConsoleProgress': 'false',
      ...opts.sparkProperties,
    },
  };
}

/** Submits an application in cluster mode; returns its submission id (the driver id). Throws when the master refuses it. */
export async function submit(opts: SubmitOptions): Promise<string> {
  const res = await postJson<{ success: boolean; submissionId?: string; message?: string }>(
    `${SPARK_REST_URL}/v1/submissions/create`,
    createSubmissionRequest(opts),
  );
  if (!res.success || !res.submissionId) throw new Error(`Spark refused the submission: ${res.message ?? JSON.stringify(res)}`);
  return res.submissionId;
}

/** The driver's current status. */
export function driverStatus(driverId: string): Promise<DriverStatus> {
  return getJson<DriverStatus>(`${SPARK_REST_URL}/v1/submissions/status/${encodeURIComponent(driverId)}`);
}

/**
 * Polls the driver's status (every 500 ms) until it is in one of `states`; returns that status.
 * Throws when it reaches another final state (with the end of its stderr), or after `timeoutMs`
 * (default 3 min: a small job takes 20–60 s on a busy 2-core machine).
 */
export async function waitForDriver(driverId: string, states: readonly DriverState[], timeoutMs = 180_000): Promise<DriverStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DriverStatus | undefined;
  for (;;) {
    last = await driverStatus(driverId).catch(() => last);
    if (last && states.includes(last.driverState)) return last;
    if (last && FINAL_DRIVER_STATES.includes(last.driverState)) {
      const log = await driverLog(driverId).catch((err: Error) => `(no log: ${err.message})`);
      throw new Error(
        `driver ${driverId} ended ${last.driverState}, not ${states.join('/')}${last.message ? `: ${last.message}` : ''}\n--- end of its stderr ---\n${log.slice(-4000)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new Error(`driver ${driverId} still ${last?.driverState ?? 'unknown'} after ${timeoutMs} ms, waiting for ${states.join('/')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Asks the master to kill the driver; true when it accepted (false when it already ended). */
export async function killDriver(driverId: string): Promise<boolean> {
  const res = await postJson<{ success: boolean }>(`${SPARK_REST_URL}/v1/submissions/kill/${encodeURIComponent(driverId)}`);
  return res.success;
}

interface MasterState {
  workers: { id: string; webuiaddress: string }[];
  activedrivers: { id: string; worker: string; state: string }[];
  completeddrivers: { id: string; worker: string; state: string }[];
}

/** The master's `/json/` view: workers, drivers, applications. */
export function masterState(): Promise<MasterState> {
  return getJson<MasterState>(`${SPARK_UI_URL}/json/`);
}

/**
 * The whole of a driver's stderr (or stdout) as its worker serves it
 * (`/log/?driverId=…&logType=…`, read in pages from offset 0). Throws when no worker knows the driver.
 */
export async function driverLog(driverId: string, logType: 'stderr' | 'stdout' = 'stderr'): Promise<string> {
  const master = await masterState();
  const driver = [...master.activedrivers, ...master.completeddrivers].find((d) => d.id === driverId);
  const worker = master.workers.find((w) => w.id === driver?.worker);
  if (!worker) throw new Error(`no worker known for driver ${driverId}`);
  let out = '';
  for (let offset = 0; ;) {
    const url = `${worker.webuiaddress}/log/?driverId=${encodeURIComponent(driverId)}&logType=${logType}&offset=${offset}&byteLength=1000000`;
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    // "==== Bytes <from>-<to> of <total> of …/stderr ====" then the bytes.
    const m = /^==== Bytes (\d+)-(\d+) of (\d+) .*====\n/.exec(text);
    if (!m) return out + text;
    out += text.slice(m[0].length);
    offset = Number(m[2]);
    if (offset >= Number(m[3]) || Number(m[2]) === Number(m[1])) return out;
  }
}

/** The `JOBWIRE {…}` facts IngestApp printed on a driver's stderr, parsed, in order. */
export function jobwireLines(stderr: string): { type: string; [k: string]: unknown }[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('JOBWIRE '))
    .map((l) => JSON.parse(l.slice('JOBWIRE '.length)));
}
