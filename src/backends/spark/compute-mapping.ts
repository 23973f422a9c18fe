/**
 * A job's compute config in Apache Spark standalone's terms: the Spark properties the SPARK backend
 * submits (cluster mode, over the master's REST API), what the compute asks that Spark cannot do,
 * and how much of the cluster the result may take. Pure and deterministic: the same config always
 * gives the same properties, so `effectiveSparkConf` shows exactly what a run will submit.
 * docs/spark-compute.md says the same for users (test/unit/spark-compute-mapping.test.ts holds the
 * two together).
 *
 * | compute                 | Spark properties                                                               |
 * | ----------------------- | ------------------------------------------------------------------------------ |
 * | SINGLE_NODE             | driver 1 core / 512m, one executor of 1 core / 512m, `spark.cores.max` 1, fixed |
 * | MULTI_NODE, SERVERLESS  | driver 1 core / 1g; executors (`spark.executor.cores` / `.memory`) by type:     |
 * | - STANDARD              | 4 cores / 8g                                                                   |
 * | - MEMORY_OPTIMIZED      | 4 cores / 16g, `spark.memory.fraction` 0.8                                     |
 * | - COMPUTE_OPTIMIZED     | 4 cores / 4g                                                                   |
 * | autoscaling false       | fixed: `spark.executor.instances` = maxWorkers, dynamic allocation off          |
 * | autoscaling true        | dynamic allocation with shuffle tracking: min and initial = minWorkers, max = maxWorkers |
 * | SERVERLESS              | dynamic allocation from 0 executors, whatever `autoscaling` says               |
 * | both (not SINGLE_NODE)  | `spark.cores.max` = maxWorkers × executor cores; maxWorkers 0 counts as 1      |
 * | adaptiveQueryExecution  | `spark.sql.adaptive.enabled`                                                   |
 * | dynamicPartitionPruning | `spark.sql.optimizer.dynamicPartitionPruning.enabled`                          |
 * | costBasedOptimizer      | `spark.sql.cbo.enabled`, `spark.sql.cbo.joinReorder.enabled`                   |
 * | photon                  | nothing (a note)                                                               |
 * | sparkConf               | every entry, stringified, last (it wins), except the reserved keys             |
 *
 * Whatever is asked and cannot be done is never dropped silently: it becomes a note (Photon; the
 * machines SERVERLESS would provision; worker counts or an instance type that SINGLE_NODE,
 * SERVERLESS or a fixed size does not use; a reserved key in an old job's sparkConf).
 */
import { ClusterMode, InstanceType, type ComputeConfig, type Json } from '../../domain';

export interface SparkConfMapping {
  /** Spark properties to submit (every value a string), the job's own sparkConf applied last (it wins). */
  conf: Record<string, string>;
  /** What Apache Spark standalone cannot do as asked, said plainly (e.g. Photon), one sentence each. Empty when everything maps. */
  notes: string[];
}

/** One executor's size. */
export interface ExecutorProfile {
  cores: number;
  /** A Spark memory string (`spark.executor.memory`). */
  memory: string;
  /** Further properties the instance type sets. */
  extra: Readonly<Record<string, string>>;
}

/**
 * Executors of MULTI_NODE and SERVERLESS compute, by instance type. The cores are the same for all
 * three so that `spark.cores.max` reads the same way. The heap per core is 1, 2 and 4 GiB for
 * compute-optimised, general-purpose and memory-optimised: the 1 : 2 : 4 of the cloud machine
 * families the names come from (2, 4 and 8 GiB per vCPU), half of it as heap to leave the JVM's
 * overhead and the operating system their share. Memory-optimised executors also give execution and storage 80 % of the
 * heap instead of Spark's 60 %: that is what the extra memory is for (caching, large shuffles).
 */
export const EXECUTOR_PROFILES: Readonly<Record<InstanceType, ExecutorProfile>> = {
  [InstanceType.STANDARD]: { cores: 4, memory: '8g', extra: {} },
  [InstanceType.MEMORY_OPTIMIZED]: { cores: 4, memory: '16g', extra: { 'spark.memory.fraction': '0.8' } },
  [InstanceType.COMPUTE_OPTIMIZED]: { cores: 4, memory: '4g', extra: {} },
};

/** The driver of MULTI_NODE and SERVERLESS compute: it only plans and collects, the executors do the work. */
export const CLUSTER_DRIVER = { cores: 1, memory: '1g' } as const;

/**
 * SINGLE_NODE: a development footprint, the same for every instance type. Driver and one executor
 * together (2 cores, 1 GiB) fit a 2-core / 1.5 GiB standalone worker — the smallest on which
 * cluster mode works at all (the driver takes a core, an executor needs another). 512m is above
 * the 450 MiB Spark refuses to start below.
 */
export const SINGLE_NODE = { driverCores: 1, driverMemory: '512m', executorCores: 1, executorMemory: '512m' } as const;

/** The properties each optimizer flag of the compute config sets, to "true" or "false" (always set). */
export const OPTIMIZER_PROPERTIES = {
  adaptiveQueryExecution: ['spark.sql.adaptive.enabled'],
  dynamicPartitionPruning: ['spark.sql.optimizer.dynamicPartitionPruning.enabled'],
  costBasedOptimizer: ['spark.sql.cbo.enabled', 'spark.sql.cbo.joinReorder.enabled'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Spark properties the SPARK backend sets itself and a job's sparkConf may not: where and how the
 * driver runs (`spark.master`, `spark.submit.deployMode`), the application name the poller finds
 * the application by (`spark.app.name`), the UI port the poller reads stages from (one per
 * concurrent driver, `spark.ui.port`), supervision (`spark.driver.supervise`: jobwire's retries
 * own a failed attempt; a driver the master relaunched would run twice under one attempt), and
 * jobwire's own properties. An entry ending in `.*` stands for every key with that prefix.
 * Job validation is to refuse them (BAD_USER_INPUT, `input.compute.sparkConf.<key>`).
 */
export const RESERVED_SPARK_KEYS: readonly string[] = [
  'spark.master',
  'spark.submit.deployMode',
  'spark.app.name',
  'spark.ui.port',
  'spark.driver.supervise',
  'spark.jobwire.*',
];

/**
 * Comma-separated lists the backend and a job both add to: the backend puts its own items first
 * (its application jar, its listener) and keeps the job's after them ({@link appendSparkList}).
 */
export const APPENDED_SPARK_KEYS: readonly string[] = ['spark.jars', 'spark.extraListeners'];

/** Whether a job's sparkConf may not set `key` (see {@link RESERVED_SPARK_KEYS}); case-sensitive, as Spark is. */
export function reservedSparkKey(key: string): boolean {
  return RESERVED_SPARK_KEYS.some((r) => (r.endsWith('.*') ? key.startsWith(r.slice(0, -1)) : key === r));
}

/** `conf` with `items` before what `conf[key]` already lists (a comma-separated Spark list), each item once. */
export function appendSparkList(conf: Record<string, string>, key: string, items: readonly string[]): Record<string, string> {
  const existing = (conf[key] ?? '').split(',').map((s) => s.trim());
  const all = [...new Set([...items, ...existing].filter((s) => s !== ''))];
  return { ...conf, [key]: all.join(',') };
}

/** The note of a compute with `photon: true` (nothing else is done for it). */
export const PHOTON_NOTE = 'Photon is a Databricks engine; Apache Spark runs the job on its own engine.';
/** The note of every SERVERLESS compute. */
export const SERVERLESS_NOTE =
  'A standalone cluster does not provision machines: SERVERLESS scales executors from zero within the workers it already has.';

/** The Spark properties and notes for `compute` (see the module's table). Never throws. */
export function sparkConfFor(compute: ComputeConfig): SparkConfMapping {
  const notes: string[] = [];
  const conf = compute.clusterMode === ClusterMode.SINGLE_NODE ? singleNode(compute, notes) : cluster(compute, notes);
  for (const flag of Object.keys(OPTIMIZER_PROPERTIES) as (keyof typeof OPTIMIZER_PROPERTIES)[]) {
    for (const key of OPTIMIZER_PROPERTIES[flag]) conf[key] = String(compute[flag]);
  }
  if (compute.photon) notes.push(PHOTON_NOTE);
  for (const [key, value] of Object.entries(compute.sparkConf ?? {})) {
    // Job validation is to refuse these; a job stored before it did may still carry one.
    if (reservedSparkKey(key)) notes.push(`${key} is set by jobwire; the job's value is not used.`);
    else if (value !== null) conf[key] = sparkValue(value);
  }
  // Sorted, so the same config always reads the same, whatever order its sparkConf came in.
  return { conf: Object.fromEntries(Object.entries(conf).sort(([a], [b]) => (a < b ? -1 : 1))), notes };
}

function singleNode(compute: ComputeConfig, notes: string[]): Record<string, string> {
  if (compute.minWorkers > 0 || compute.maxWorkers > 0 || compute.autoscaling) {
    notes.push('SINGLE_NODE runs one executor beside the driver: minWorkers, maxWorkers and autoscaling are not used.');
  }
  if (compute.instanceType !== InstanceType.STANDARD) {
    notes.push(
      `SINGLE_NODE has one size (${SINGLE_NODE.executorCores} core, ${SINGLE_NODE.executorMemory} for the driver and its executor): instanceType ${compute.instanceType} changes nothing.`,
    );
  }
  return {
    'spark.driver.cores': String(SINGLE_NODE.driverCores),
    'spark.driver.memory': SINGLE_NODE.driverMemory,
    'spark.executor.cores': String(SINGLE_NODE.executorCores),
    'spark.executor.memory': SINGLE_NODE.executorMemory,
    'spark.executor.instances': '1',
    'spark.cores.max': String(SINGLE_NODE.executorCores),
    'spark.dynamicAllocation.enabled': 'false',
  };
}

function cluster(compute: ComputeConfig, notes: string[]): Record<string, string> {
  const profile = EXECUTOR_PROFILES[compute.instanceType];
  const serverless = compute.clusterMode === ClusterMode.SERVERLESS;
  let max = compute.maxWorkers;
  if (max < 1) {
    notes.push('maxWorkers is 0, so the job runs one executor (Spark needs at least one).');
    max = 1;
  }
  const conf: Record<string, string> = {
    'spark.driver.cores': String(CLUSTER_DRIVER.cores),
    'spark.driver.memory': CLUSTER_DRIVER.memory,
    'spark.executor.cores': String(profile.cores),
    'spark.executor.memory': profile.memory,
    ...profile.extra,
    // Standalone sizes an application by its cores: without a cap it would take every free core.
    'spark.cores.max': String(max * profile.cores),
  };
  if (serverless) {
    notes.push(
      'A standalone cluster does not provision machines: SERVERLESS scales executors from zero within the workers it already has.',
    );
    if (compute.minWorkers > 0) notes.push(`SERVERLESS scales from zero: minWorkers ${compute.minWorkers} is not used.`);
    if (!compute.autoscaling) notes.push('SERVERLESS always scales with the load: autoscaling false is not used.');
  }
  if (serverless || compute.autoscaling) {
    const min = serverless ? 0 : Math.min(compute.minWorkers, max);
    return {
      ...conf,
      'spark.dynamicAllocation.enabled': 'true',
      // Standalone has no external shuffle service by default: executors that hold shuffle data
      // are kept until nothing needs it, instead of being released and losing it.
      'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
      'spark.dynamicAllocation.minExecutors': String(min),
      'spark.dynamicAllocation.initialExecutors': String(min),
      'spark.dynamicAllocation.maxExecutors': String(max),
    };
  }
  if (compute.minWorkers < compute.maxWorkers) {
    notes.push(`autoscaling is off, so the job runs a fixed ${max} executors (maxWorkers); minWorkers ${compute.minWorkers} is not used.`);
  }
  // Standalone counts a fixed application's executors as spark.cores.max ÷ spark.executor.cores;
  // spark.executor.instances says the same number for the Spark UI and other cluster managers.
  return { ...conf, 'spark.executor.instances': String(max), 'spark.dynamicAllocation.enabled': 'false' };
}

/** A sparkConf value as Spark reads it: integers without an exponent (`1e21` → `1000000000000000000000`). */
function sparkValue(value: Exclude<Json, null>): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  return JSON.stringify(value);
}

/**
 * Cores and memory (MiB) the submission asks of the cluster at most: the driver plus maxExecutors ×
 * executor size, read from the final conf (so the user's overrides count). As standalone counts:
 * executors are at most `spark.cores.max` ÷ `spark.executor.cores` (rounded down; 0 when the cap is
 * below one executor, which then never starts), and with dynamic allocation at most
 * `spark.dynamicAllocation.maxExecutors`; `spark.executor.instances` does not count (standalone
 * ignores it). Nothing bounding them gives Infinity (standalone would hand the application every
 * free core). Memory is the heap Spark asks the worker for (standalone adds no overhead). Missing
 * or unreadable values count as Spark's defaults: 1 driver core, 1g each, 1 core per executor.
 */
export function capacityNeeded(conf: Record<string, string>): { cores: number; memoryMb: number; executors: number } {
  const driverCores = intOf(conf['spark.driver.cores']) ?? 1;
  const driverMb = memoryOf(conf['spark.driver.memory']) ?? 1024;
  const executorCores = Math.max(1, intOf(conf['spark.executor.cores']) ?? 1);
  const executorMb = memoryOf(conf['spark.executor.memory']) ?? 1024;
  let executors = Infinity;
  const coresMax = intOf(conf['spark.cores.max']);
  if (coresMax !== null) executors = Math.floor(coresMax / executorCores);
  if (conf['spark.dynamicAllocation.enabled']?.trim().toLowerCase() === 'true') {
    const maxExecutors = intOf(conf['spark.dynamicAllocation.maxExecutors']);
    if (maxExecutors !== null) executors = Math.min(executors, maxExecutors);
  }
  const scaled = (per: number) => (per === 0 || executors === 0 ? 0 : executors * per);
  return { cores: driverCores + scaled(executorCores), memoryMb: driverMb + scaled(executorMb), executors };
}

const intOf = (v: string | undefined) => (v !== undefined && /^\s*\d+\s*$/.test(v) ? Number(v) : null);
const memoryOf = (v: string | undefined) => (v === undefined ? null : memoryMb(v));

const MIB = 1n << 20n;
/** Spark's byte suffixes (JavaUtils.byteStringAs), binary multiples. */
const BYTE_SUFFIXES: Readonly<Record<string, bigint>> = {
  b: 1n,
  k: 1n << 10n,
  kb: 1n << 10n,
  m: MIB,
  mb: MIB,
  g: 1n << 30n,
  gb: 1n << 30n,
  t: 1n << 40n,
  tb: 1n << 40n,
  p: 1n << 50n,
  pb: 1n << 50n,
};

/**
 * Spark memory strings ("512m", "4g", "1024k", "2t", plain bytes) to MiB; null when not a memory string.
 * Read as Spark reads `spark.driver.memory` and `spark.executor.memory` (Utils.memoryStringToMb):
 * case and surrounding blanks do not matter, a number without a suffix is bytes, the result is
 * rounded down ("1500k" is 1), and fractions ("1.5g") are not memory strings.
 */
export function memoryMb(value: string): number | null {
  const m = /^(\d+)([a-z]+)?$/.exec(value.trim().toLowerCase());
  if (!m) return null;
  const unit = m[2] === undefined ? 1n : BYTE_SUFFIXES[m[2]];
  if (unit === undefined) return null;
  return Number((BigInt(m[1]) * unit) / MIB);
}
