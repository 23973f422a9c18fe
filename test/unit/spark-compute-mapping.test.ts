import fs from 'node:fs';
import path from 'node:path';
import {
  OPTIMIZER_PROPERTIES,
  PHOTON_NOTE,
  RESERVED_SPARK_KEYS,
  SERVERLESS_NOTE,
  appendSparkList,
  capacityNeeded,
  memoryMb,
  reservedSparkKey,
  sparkConfFor,
} from '../../src/backends/spark/compute-mapping';
import { ClusterMode, InstanceType, type ComputeConfig } from '../../src/domain';
import { computePresets, findPreset } from '../../src/jobs/presets';

const preset = (name: string): ComputeConfig => findPreset(name)!.compute;
const compute = (over: Partial<ComputeConfig>): ComputeConfig => ({ ...preset('medium'), ...over });

const SQL_DEFAULTS = {
  'spark.sql.adaptive.enabled': 'true',
  'spark.sql.optimizer.dynamicPartitionPruning.enabled': 'true',
  'spark.sql.cbo.enabled': 'false',
  'spark.sql.cbo.joinReorder.enabled': 'false',
};
const dynamic = (min: number, max: number) => ({
  'spark.dynamicAllocation.enabled': 'true',
  'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
  'spark.dynamicAllocation.minExecutors': String(min),
  'spark.dynamicAllocation.initialExecutors': String(min),
  'spark.dynamicAllocation.maxExecutors': String(max),
});
const clusterDriver = { 'spark.driver.cores': '1', 'spark.driver.memory': '1g' };

/** Every preset's full submission: a change of the mapping fails here until this (and docs/spark-compute.md) follow. */
const EXPECTED: Record<string, { conf: Record<string, string>; notes: string[] }> = {
  small: {
    conf: {
      'spark.driver.cores': '1',
      'spark.driver.memory': '512m',
      'spark.executor.cores': '1',
      'spark.executor.memory': '512m',
      'spark.executor.instances': '1',
      'spark.cores.max': '1',
      'spark.dynamicAllocation.enabled': 'false',
      ...SQL_DEFAULTS,
    },
    notes: [],
  },
  medium: {
    conf: {
      ...clusterDriver,
      'spark.executor.cores': '4',
      'spark.executor.memory': '8g',
      'spark.cores.max': '16',
      ...dynamic(2, 4),
      ...SQL_DEFAULTS,
    },
    notes: [],
  },
  large: {
    conf: {
      ...clusterDriver,
      'spark.executor.cores': '4',
      'spark.executor.memory': '4g',
      'spark.cores.max': '64',
      ...dynamic(4, 16),
      ...SQL_DEFAULTS,
      'spark.sql.cbo.enabled': 'true',
      'spark.sql.cbo.joinReorder.enabled': 'true',
    },
    notes: ['Photon is a Databricks engine; Apache Spark runs the job on its own engine.'],
  },
  'memory-heavy': {
    conf: {
      ...clusterDriver,
      'spark.executor.cores': '4',
      'spark.executor.memory': '16g',
      'spark.memory.fraction': '0.8',
      'spark.cores.max': '32',
      ...dynamic(2, 8),
      ...SQL_DEFAULTS,
      'spark.sql.shuffle.partitions': '400',
    },
    notes: [],
  },
  serverless: {
    conf: {
      ...clusterDriver,
      'spark.executor.cores': '4',
      'spark.executor.memory': '8g',
      'spark.cores.max': '32',
      ...dynamic(0, 8),
      ...SQL_DEFAULTS,
    },
    notes: ['A standalone cluster does not provision machines: SERVERLESS scales executors from zero within the workers it already has.'],
  },
};

describe('sparkConfFor', () => {
  it('has an expected submission for every preset, and no more', () => {
    expect(computePresets().map((p) => p.name)).toEqual(Object.keys(EXPECTED));
  });

  it.each(computePresets().map((p) => [p.name, p.compute] as const))(
    'submits exactly the documented properties for the %s preset',
    (name, c) => {
      expect(sparkConfFor(c)).toEqual(EXPECTED[name]);
    },
  );

  it('gives the same properties in the same key order whatever order the sparkConf came in', () => {
    const a = sparkConfFor(compute({ sparkConf: { 'spark.a': 1, 'spark.z': 2 } }));
    const b = sparkConfFor(compute({ sparkConf: { 'spark.z': 2, 'spark.a': 1 } }));
    expect(Object.keys(a.conf)).toEqual(Object.keys(b.conf));
    expect(Object.keys(a.conf)).toEqual([...Object.keys(a.conf)].sort());
  });

  it("applies the job's sparkConf last (it wins), every value a string, integers without an exponent", () => {
    const { conf, notes } = sparkConfFor(
      compute({
        sparkConf: {
          'spark.executor.memory': '12g',
          'spark.sql.adaptive.enabled': false,
          'spark.sql.shuffle.partitions': 200,
          'spark.sql.autoBroadcastJoinThreshold': 1e21,
          'spark.memory.storageFraction': 0.25,
          'spark.network.timeout': '300s',
          'spark.speculation': true,
        },
      }),
    );
    expect(conf).toMatchObject({
      'spark.executor.memory': '12g',
      'spark.sql.adaptive.enabled': 'false',
      'spark.sql.shuffle.partitions': '200',
      'spark.sql.autoBroadcastJoinThreshold': '1000000000000000000000',
      'spark.memory.storageFraction': '0.25',
      'spark.network.timeout': '300s',
      'spark.speculation': 'true',
    });
    expect(Object.values(conf).every((v) => typeof v === 'string')).toBe(true);
    expect(notes).toEqual([]);
  });

  it('says Photon is not there, and sets nothing for it', () => {
    const withPhoton = sparkConfFor(compute({ photon: true }));
    expect(withPhoton.notes).toEqual([PHOTON_NOTE]);
    expect(withPhoton.conf).toEqual(sparkConfFor(compute({ photon: false })).conf);
  });

  it('scales SERVERLESS from zero whatever its minWorkers and autoscaling say, and says so', () => {
    const { conf, notes } = sparkConfFor(
      compute({ clusterMode: ClusterMode.SERVERLESS, minWorkers: 2, maxWorkers: 6, autoscaling: false }),
    );
    expect(conf).toMatchObject({ ...dynamic(0, 6), 'spark.cores.max': '24' });
    expect(conf['spark.executor.instances']).toBeUndefined();
    expect(notes).toEqual([
      SERVERLESS_NOTE,
      'SERVERLESS scales from zero: minWorkers 2 is not used.',
      'SERVERLESS always scales with the load: autoscaling false is not used.',
    ]);
  });

  it('runs a fixed maxWorkers executors without autoscaling, saying minWorkers is not used', () => {
    const { conf, notes } = sparkConfFor(compute({ minWorkers: 2, maxWorkers: 5, autoscaling: false }));
    expect(conf).toMatchObject({ 'spark.executor.instances': '5', 'spark.cores.max': '20', 'spark.dynamicAllocation.enabled': 'false' });
    expect(Object.keys(conf).filter((k) => k.startsWith('spark.dynamicAllocation.'))).toEqual(['spark.dynamicAllocation.enabled']);
    expect(notes).toEqual(['autoscaling is off, so the job runs a fixed 5 executors (maxWorkers); minWorkers 2 is not used.']);
    expect(sparkConfFor(compute({ minWorkers: 3, maxWorkers: 3, autoscaling: false })).notes).toEqual([]);
  });

  it('runs one executor for a MULTI_NODE compute with maxWorkers 0, and says so', () => {
    const fixed = sparkConfFor(compute({ minWorkers: 0, maxWorkers: 0, autoscaling: false }));
    expect(fixed.conf).toMatchObject({ 'spark.executor.instances': '1', 'spark.cores.max': '4' });
    expect(fixed.notes).toEqual(['maxWorkers is 0, so the job runs one executor (Spark needs at least one).']);
    const scaling = sparkConfFor(compute({ minWorkers: 0, maxWorkers: 0, autoscaling: true }));
    expect(scaling.conf).toMatchObject({ ...dynamic(0, 1), 'spark.cores.max': '4' });
  });

  it('keeps SINGLE_NODE at its development footprint, saying what it does not use', () => {
    const { conf, notes } = sparkConfFor(
      compute({ clusterMode: ClusterMode.SINGLE_NODE, instanceType: InstanceType.MEMORY_OPTIMIZED, minWorkers: 1, maxWorkers: 4 }),
    );
    expect(conf).toEqual({ ...EXPECTED.small.conf });
    expect(notes).toEqual([
      'SINGLE_NODE runs one executor beside the driver: minWorkers, maxWorkers and autoscaling are not used.',
      'SINGLE_NODE has one size (1 core, 512m for the driver and its executor): instanceType MEMORY_OPTIMIZED changes nothing.',
    ]);
  });

  it('sizes executors by instance type', () => {
    const sizes = Object.values(InstanceType).map((instanceType) => {
      const { conf } = sparkConfFor(compute({ instanceType, autoscaling: false, minWorkers: 2, maxWorkers: 2 }));
      return [instanceType, conf['spark.executor.cores'], conf['spark.executor.memory'], conf['spark.memory.fraction'] ?? null];
    });
    expect(sizes).toEqual([
      ['STANDARD', '4', '8g', null],
      ['MEMORY_OPTIMIZED', '4', '16g', '0.8'],
      ['COMPUTE_OPTIMIZED', '4', '4g', null],
    ]);
  });

  it('sets every optimizer switch both ways', () => {
    for (const value of [true, false]) {
      const { conf } = sparkConfFor(compute({ adaptiveQueryExecution: value, dynamicPartitionPruning: value, costBasedOptimizer: value }));
      for (const key of Object.values(OPTIMIZER_PROPERTIES).flat()) expect(conf[key]).toBe(String(value));
    }
  });

  it("does not submit a reserved key from an old job's sparkConf, and says so", () => {
    const { conf, notes } = sparkConfFor(
      compute({ sparkConf: { 'spark.master': 'local[*]', 'spark.jobwire.runId': 'x', 'spark.jobwire': 'kept', 'spark.app.name': 'mine' } }),
    );
    expect(conf['spark.master']).toBeUndefined();
    expect(conf['spark.app.name']).toBeUndefined();
    expect(conf['spark.jobwire.runId']).toBeUndefined();
    expect(conf['spark.jobwire']).toBe('kept');
    expect(notes).toEqual([
      "spark.master is set by jobwire; the job's value is not used.",
      "spark.jobwire.runId is set by jobwire; the job's value is not used.",
      "spark.app.name is set by jobwire; the job's value is not used.",
    ]);
  });
});

describe('reservedSparkKey', () => {
  it.each(['spark.master', 'spark.submit.deployMode', 'spark.app.name', 'spark.ui.port', 'spark.driver.supervise', 'spark.jobwire.runId'])(
    'reserves %s',
    (key) => expect(reservedSparkKey(key)).toBe(true),
  );
  it.each(['spark.jars', 'spark.extraListeners', 'spark.executor.memory', 'spark.masterx', 'Spark.Master', 'spark.jobwire'])(
    'leaves %s to the job',
    (key) => expect(reservedSparkKey(key)).toBe(false),
  );
});

describe('appendSparkList', () => {
  it("puts the backend's items first and keeps the job's, each once", () => {
    const conf = { 'spark.jars': 'file:/x/pg.jar, file:/app.jar' };
    expect(appendSparkList(conf, 'spark.jars', ['file:/app.jar'])['spark.jars']).toBe('file:/app.jar,file:/x/pg.jar');
    expect(appendSparkList({}, 'spark.extraListeners', ['com.jobwire.L'])).toEqual({ 'spark.extraListeners': 'com.jobwire.L' });
    expect(conf['spark.jars']).toBe('file:/x/pg.jar, file:/app.jar');
  });
});

describe('capacityNeeded', () => {
  const fits = (c: { cores: number; memoryMb: number }) => c.cores <= 2 && c.memoryMb <= 1536;

  it('counts the driver and every executor the presets may start', () => {
    const capacity = Object.fromEntries(computePresets().map((p) => [p.name, capacityNeeded(sparkConfFor(p.compute).conf)]));
    expect(capacity).toEqual({
      small: { cores: 2, memoryMb: 1024, executors: 1 },
      medium: { cores: 17, memoryMb: 33792, executors: 4 },
      large: { cores: 65, memoryMb: 66560, executors: 16 },
      'memory-heavy': { cores: 33, memoryMb: 132096, executors: 8 },
      serverless: { cores: 33, memoryMb: 66560, executors: 8 },
    });
    expect(fits(capacity.small)).toBe(true);
    expect(fits(capacity.medium)).toBe(false);
    expect(fits(capacity.large)).toBe(false);
  });

  it("counts the job's own overrides", () => {
    const small = (sparkConf: ComputeConfig['sparkConf']) => capacityNeeded(sparkConfFor({ ...preset('small'), sparkConf }).conf);
    expect(small({ 'spark.executor.memory': '1g' })).toEqual({ cores: 2, memoryMb: 1536, executors: 1 });
    expect(fits(small({ 'spark.executor.memory': '1g' }))).toBe(true);
    expect(fits(small({ 'spark.executor.memory': '1025m' }))).toBe(false);
    expect(small({ 'spark.cores.max': 3 })).toEqual({ cores: 4, memoryMb: 2048, executors: 3 });
    const medium = capacityNeeded(sparkConfFor({ ...preset('medium'), sparkConf: { 'spark.executor.memory': '2g' } }).conf);
    expect(medium).toEqual({ cores: 17, memoryMb: 1024 + 4 * 2048, executors: 4 });
  });

  it('counts as standalone does: cores.max over executor cores, capped by maxExecutors, instances ignored', () => {
    const base = { 'spark.driver.cores': '2', 'spark.driver.memory': '2g', 'spark.executor.cores': '3', 'spark.executor.memory': '1g' };
    expect(capacityNeeded({ ...base, 'spark.cores.max': '10', 'spark.executor.instances': '7' })).toEqual({
      cores: 2 + 9,
      memoryMb: 2048 + 3 * 1024,
      executors: 3,
    });
    expect(
      capacityNeeded({
        ...base,
        'spark.cores.max': '30',
        'spark.dynamicAllocation.enabled': 'true',
        'spark.dynamicAllocation.maxExecutors': '4',
      }),
    ).toMatchObject({ executors: 4, cores: 14 });
    expect(capacityNeeded({ ...base, 'spark.cores.max': '2' })).toEqual({ cores: 2, memoryMb: 2048, executors: 0 });
    expect(capacityNeeded(base)).toEqual({ cores: Infinity, memoryMb: Infinity, executors: Infinity });
    expect(capacityNeeded({ 'spark.cores.max': '1' })).toEqual({ cores: 2, memoryMb: 2048, executors: 1 });
  });
});

describe('memoryMb', () => {
  it.each([
    ['512m', 512],
    ['4g', 4096],
    ['4G', 4096],
    [' 8gb ', 8192],
    ['1024k', 1],
    ['1500k', 1],
    ['2t', 2 * 1024 * 1024],
    ['1p', 1024 ** 3],
    ['1048576', 1],
    ['1073741824b', 1024],
    ['100', 0],
  ])('reads %j as %i MiB', (value, mib) => expect(memoryMb(value)).toBe(mib));

  it.each(['', 'lots', '1.5g', '-1g', '4 g', '4x', 'g', '0x10m'])('does not read %j', (value) => expect(memoryMb(value)).toBeNull());
});

describe('docs/spark-compute.md', () => {
  const md = fs.readFileSync(path.resolve(__dirname, '../../docs/spark-compute.md'), 'utf8');
  const plain = (cell: string) => cell.replace(/`/g, '').trim();
  /** The rows (cells, backticks dropped) of the first table after the heading `## <title>` whose header row starts with `first`. */
  const table = (title: string, first: string): string[][] => {
    const section = md.split(/^## /m).find((s) => s.startsWith(title)) ?? '';
    const rows = section.split('\n').filter((l) => l.startsWith('|'));
    const start = rows.findIndex((r) => plain(r.split('|')[1]) === first);
    expect(start).toBeGreaterThanOrEqual(0);
    const out: string[][] = [];
    for (const r of rows.slice(start + 2)) {
      const cells = r.split('|').slice(1, -1).map(plain);
      if (plain(r.split('|')[1]) === first) break;
      out.push(cells);
    }
    return out;
  };

  it('shows exactly what each preset submits', () => {
    const rows = table('What the presets submit', 'property');
    const header = md
      .split('\n')
      .find((l) => l.startsWith('| property |'))!
      .split('|')
      .slice(2, -1)
      .map(plain);
    expect(header).toEqual(computePresets().map((p) => p.name));
    for (const [i, name] of header.entries()) {
      const documented = Object.fromEntries(rows.filter((r) => r[i + 1] !== '').map((r) => [r[0], r[i + 1]]));
      expect([name, documented]).toEqual([name, sparkConfFor(preset(name)).conf]);
    }
  });

  it("shows each preset's capacity", () => {
    for (const [name, cores, memory, executors] of table('Capacity', 'preset')) {
      expect([name, capacityNeeded(sparkConfFor(preset(name)).conf)]).toEqual([
        name,
        { cores: Number(cores), memoryMb: Number(memory), executors: Number(executors) },
      ]);
    }
  });

  it('shows the executor profile of every instance type', () => {
    const rows = table('Driver and executors', 'instanceType');
    expect(rows.map((r) => r[0])).toEqual(Object.values(InstanceType));
    for (const [instanceType, cores, memory, also] of rows) {
      const { conf } = sparkConfFor(compute({ instanceType: instanceType as InstanceType }));
      const extra = also ? Object.fromEntries(also.split(',').map((kv) => kv.trim().split('='))) : {};
      expect(conf).toMatchObject({ 'spark.executor.cores': cores, 'spark.executor.memory': memory, ...extra });
    }
  });

  it('shows the properties of every optimizer switch', () => {
    const rows = table('Query optimisation', 'compute field');
    expect(Object.fromEntries(rows.map(([field, props]) => [field, props.split(',').map((p) => p.trim())]))).toEqual(OPTIMIZER_PROPERTIES);
  });

  it('lists exactly the reserved keys, and says the fixed notes word for word', () => {
    const section = md.split(/^## /m).find((s) => s.startsWith("The job's own")) ?? '';
    const listed = [...section.matchAll(/^- (.*?):/gm)].flatMap((m) => m[1].split(',').map(plain));
    expect(listed).toEqual([...RESERVED_SPARK_KEYS]);
    expect(md).toContain(PHOTON_NOTE);
    expect(md).toContain(SERVERLESS_NOTE);
  });
});
