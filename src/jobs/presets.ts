/**
 * Named compute configurations that `applyComputePreset` copies onto a job. They describe what the
 * SPARK backend asks the cluster for; the LOCAL executor runs in the gateway process and ignores
 * worker counts.
 */
import { ClusterMode, InstanceType, type ComputeConfig } from '../domain';

export interface ComputePreset {
  name: string;
  description: string;
  compute: ComputeConfig;
}

const base = {
  autoscaling: false,
  photon: false,
  adaptiveQueryExecution: true,
  dynamicPartitionPruning: true,
  costBasedOptimizer: false,
  sparkConf: null,
} satisfies Partial<ComputeConfig>;

const PRESETS: readonly ComputePreset[] = [
  {
    name: 'small',
    description: 'One standard node, no separate workers: development, small files and most LOCAL jobs. The default for new jobs.',
    compute: { ...base, clusterMode: ClusterMode.SINGLE_NODE, instanceType: InstanceType.STANDARD, minWorkers: 0, maxWorkers: 0 },
  },
  {
    name: 'medium',
    description: '2–4 standard workers with autoscaling: daily batch loads of a few GB.',
    compute: {
      ...base,
      clusterMode: ClusterMode.MULTI_NODE,
      instanceType: InstanceType.STANDARD,
      minWorkers: 2,
      maxWorkers: 4,
      autoscaling: true,
    },
  },
  {
    name: 'large',
    description: '4–16 compute-optimised workers with autoscaling and the cost-based optimizer: large joins and aggregations.',
    compute: {
      ...base,
      clusterMode: ClusterMode.MULTI_NODE,
      instanceType: InstanceType.COMPUTE_OPTIMIZED,
      minWorkers: 4,
      maxWorkers: 16,
      autoscaling: true,
      photon: true,
      costBasedOptimizer: true,
    },
  },
  {
    name: 'memory-heavy',
    description: '2–8 memory-optimised workers: wide rows, large shuffles, caching; more shuffle partitions.',
    compute: {
      ...base,
      clusterMode: ClusterMode.MULTI_NODE,
      instanceType: InstanceType.MEMORY_OPTIMIZED,
      minWorkers: 2,
      maxWorkers: 8,
      autoscaling: true,
      sparkConf: { 'spark.sql.shuffle.partitions': 400, 'spark.memory.fraction': 0.8 },
    },
  },
  {
    name: 'serverless',
    description: 'Serverless compute that scales from zero: spiky or infrequent jobs where idle clusters cost more than start-up time.',
    compute: {
      ...base,
      clusterMode: ClusterMode.SERVERLESS,
      instanceType: InstanceType.STANDARD,
      minWorkers: 0,
      maxWorkers: 8,
      autoscaling: true,
    },
  },
];

/** The preset new jobs get when they give no compute. */
export const DEFAULT_PRESET = 'small';

/** Every preset, as deep copies (callers may change them freely). */
export function computePresets(): ComputePreset[] {
  return PRESETS.map((p) => structuredClone(p));
}

/** The preset called `name` (case-sensitive), as a deep copy, or undefined. */
export function findPreset(name: string): ComputePreset | undefined {
  const p = PRESETS.find((x) => x.name === name);
  return p && structuredClone(p);
}

export const presetNames = (): string[] => PRESETS.map((p) => p.name);

/** The compute of the {@link DEFAULT_PRESET}. */
export function defaultCompute(): ComputeConfig {
  return findPreset(DEFAULT_PRESET)!.compute;
}
