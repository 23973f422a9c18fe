/**
 * A client of a Spark standalone cluster's HTTP interfaces: the master's REST submission server
 * (`SPARK_MASTER_URL`, :6066: create, status, kill), the master's web UI JSON (`SPARK_MASTER_UI_URL`,
 * :8080 `/json/`: every worker, driver and application in one answer), a running driver's REST API
 * (`/api/v1/applications/<appId>/stages|executors`, on its own UI port) and a worker's driver logs
 * (`/log/?driverId=…`). Every request has a timeout; none retries (the poller's next cycle does).
 */

/** A request to the cluster that failed: unreachable, timed out, or refused. */
export class SparkRequestError extends Error {
  constructor(
    message: string,
    /** True when the cluster could not be reached at all (connection refused, timeout, DNS). */
    readonly unreachable: boolean,
    /** The HTTP status when one came back. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SparkRequestError';
  }
}

export interface SparkWorker {
  id: string;
  host: string;
  webuiaddress: string;
  cores: number;
  coresused: number;
  /** MiB. */
  memory: number;
  memoryused: number;
  state: string;
}

export interface SparkDriver {
  id: string;
  state: string;
  /** The worker it runs on (an id of `workers`), when it was placed. */
  worker?: string;
  mainclass?: string;
  cores?: number;
  memory?: number;
}

export interface SparkApp {
  id: string;
  name: string;
  state: string;
  cores?: number;
}

/** What the master's `/json/` says: the whole cluster in one answer. */
export interface MasterState {
  /** `spark://host:port`: what a submission names as `spark.master`. */
  url: string;
  status: string;
  workers: SparkWorker[];
  activedrivers: SparkDriver[];
  completeddrivers: SparkDriver[];
  activeapps: SparkApp[];
  completedapps: SparkApp[];
  cores: number;
  coresused: number;
  memory: number;
  memoryused: number;
}

/** A `CreateSubmissionRequest` of the REST submission protocol. */
export interface CreateSubmissionRequest {
  appResource: string;
  mainClass: string;
  appArgs: string[];
  sparkProperties: Record<string, string>;
  environmentVariables: Record<string, string>;
}

export interface SubmissionStatus {
  driverState: string;
  /** For ERROR, the cause (e.g. the exception that stopped the launch). */
  message: string | null;
  workerId: string | null;
  workerHostPort: string | null;
  success: boolean;
}

/** A stage as a driver's REST API shows it. */
export interface SparkStage {
  stageId: number;
  attemptId: number;
  name: string;
  status: string;
  numTasks: number;
  numActiveTasks: number;
  numCompleteTasks: number;
  numFailedTasks: number;
  inputRecords?: number;
  inputBytes?: number;
  outputRecords?: number;
  outputBytes?: number;
}

export interface SparkExecutor {
  id: string;
  isActive: boolean;
  totalCores?: number;
  maxMemory?: number;
  memoryUsed?: number;
}

/** A page of a driver's log, from a worker. */
export interface LogPage {
  text: string;
  /** Byte offsets of `text` within the log, and the log's length now. */
  from: number;
  to: number;
  total: number;
}

export interface SparkClientOptions {
  /** REST submission server, `http://host:6066`. */
  restUrl: string;
  /** Master web UI, `http://host:8080`. */
  uiUrl: string;
  /** Per request. Default 5000 ms. */
  timeoutMs?: number;
  /** The Spark version the submissions say they come from (`clientSparkVersion`). */
  clientSparkVersion?: string;
  /** Counts every request made (tests, benches and metrics). */
  onRequest?: (url: string) => void;
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');

/** `spark://host:6066` (as DESIGN.md allows) means the REST server at `http://host:6066`. */
export function restBaseUrl(masterUrl: string): string {
  return trimSlash(masterUrl.replace(/^spark:\/\//, 'http://'));
}

export class SparkClient {
  private readonly rest: string;
  private readonly ui: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: SparkClientOptions) {
    this.rest = restBaseUrl(opts.restUrl);
    this.ui = trimSlash(opts.uiUrl);
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** The master's view of the cluster (`GET /json/`): one request, whatever the number of runs. */
  async master(): Promise<MasterState> {
    const m = await this.json<Partial<MasterState>>(`${this.ui}/json/`);
    return {
      url: m.url ?? '',
      status: m.status ?? 'UNKNOWN',
      workers: m.workers ?? [],
      activedrivers: m.activedrivers ?? [],
      completeddrivers: m.completeddrivers ?? [],
      activeapps: m.activeapps ?? [],
      completedapps: m.completedapps ?? [],
      cores: m.cores ?? 0,
      coresused: m.coresused ?? 0,
      memory: m.memory ?? 0,
      memoryused: m.memoryused ?? 0,
    };
  }

  /** Submits a driver in cluster mode; resolves with its id. Rejects (not unreachable) when the master refuses. */
  async create(req: CreateSubmissionRequest): Promise<string> {
    const body = {
      action: 'CreateSubmissionRequest',
      clientSparkVersion: this.opts.clientSparkVersion ?? '4.2.0',
      ...req,
    };
    const res = await this.json<{ success?: boolean; submissionId?: string; message?: string }>(`${this.rest}/v1/submissions/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json;charset=UTF-8' },
      body: JSON.stringify(body),
    });
    if (!res.success || !res.submissionId)
      throw new SparkRequestError(`the master refused the submission: ${res.message ?? 'no reason given'}`, false);
    return res.submissionId;
  }

  async status(driverId: string): Promise<SubmissionStatus> {
    const s = await this.json<{ driverState?: string; message?: string; workerId?: string; workerHostPort?: string; success?: boolean }>(
      `${this.rest}/v1/submissions/status/${encodeURIComponent(driverId)}`,
    );
    return {
      driverState: s.driverState ?? 'UNKNOWN',
      message: s.message ?? null,
      workerId: s.workerId ?? null,
      workerHostPort: s.workerHostPort ?? null,
      success: s.success ?? false,
    };
  }

  /** Asks the master to kill a driver. Resolves whether or not it was still running (a finished driver stays finished). */
  async kill(driverId: string): Promise<{ success: boolean; message: string | null }> {
    const res = await this.json<{ success?: boolean; message?: string }>(
      `${this.rest}/v1/submissions/kill/${encodeURIComponent(driverId)}`,
      {
        method: 'POST',
      },
    );
    return { success: res.success ?? false, message: res.message ?? null };
  }

  /** The applications a driver's UI serves (one: the driver's own), to learn its application id. */
  applications(driverUi: string): Promise<{ id: string; name: string }[]> {
    return this.json(`${trimSlash(driverUi)}/api/v1/applications`);
  }

  stages(driverUi: string, appId: string): Promise<SparkStage[]> {
    return this.json(`${trimSlash(driverUi)}/api/v1/applications/${encodeURIComponent(appId)}/stages`);
  }

  executors(driverUi: string, appId: string): Promise<SparkExecutor[]> {
    return this.json(`${trimSlash(driverUi)}/api/v1/applications/${encodeURIComponent(appId)}/executors`);
  }

  /**
   * A page of a driver's stdout or stderr from the worker that runs it, from byte `offset`. The
   * worker answers text headed `==== Bytes <from>-<to> of <total> of … ====`.
   */
  async driverLog(workerUi: string, driverId: string, logType: 'stdout' | 'stderr', offset: number, byteLength: number): Promise<LogPage> {
    const url = `${trimSlash(workerUi)}/log/?driverId=${encodeURIComponent(driverId)}&logType=${logType}&offset=${offset}&byteLength=${byteLength}`;
    const text = await this.text(url);
    const m = /^==== Bytes (\d+)-(\d+) of (\d+) of .*? ====\n?/.exec(text);
    if (!m) return { text: '', from: offset, to: offset, total: offset };
    return { text: text.slice(m[0].length), from: Number(m[1]), to: Number(m[2]), total: Number(m[3]) };
  }

  private async json<T>(url: string, init?: RequestInit): Promise<T> {
    const text = await this.text(url, init);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SparkRequestError(`${describe(url)} answered something that is not JSON: ${text.slice(0, 200)}`, false);
    }
  }

  private async text(url: string, init?: RequestInit): Promise<string> {
    this.opts.onRequest?.(url);
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' }).catch((err) => {
        // A kept-alive connection the server closed meanwhile: a read is asked again once, on a new one.
        const code = (err as { cause?: { code?: string } }).cause?.code;
        if ((init?.method ?? 'GET') !== 'GET' || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw err;
        return fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'manual' });
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new SparkRequestError(`${describe(url)} cannot be reached: ${why}`, true);
    }
    const body = await res.text();
    // The REST server answers errors (unknown driver, bad request) as JSON with a message: let callers read them.
    if (!res.ok && !(res.headers.get('content-type') ?? '').includes('json')) {
      throw new SparkRequestError(`${describe(url)} answered HTTP ${res.status}: ${body.slice(0, 200)}`, false, res.status);
    }
    return body;
  }
}

/** A URL as errors show it: without its query (driver ids, offsets) to keep messages short. */
function describe(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
