import { ClusterMode, DataFormat, ExecutionBackend, ProcessingMode, SourceType } from '../../src/domain';
import { AppError, ErrorCode } from '../../src/errors';
import type { CreateJobInput } from '../../src/jobs/job-input';
import { validateCompute, validateCreateJob, validateJobUpdate, validateSchedule, validateSource } from '../../src/jobs/job-validation';
import { defaultCompute } from '../../src/jobs/presets';
import { ENGINE_SOURCES, SPARK_SOURCES, type SourceCapability } from '../../src/backends/backend';
import type { Capabilities } from '../../src/jobs/job-validation';

/** Every backend executes everything: for tests of the parameter rules alone. */
const ANY: Capabilities = () =>
  Object.values(SourceType).map((type): SourceCapability => ({
    type,
    formats: Object.values(DataFormat),
    modes: Object.values(ProcessingMode),
  }));
/** What jobwire's backends execute (LOCAL and KAFKA run the ingestion engine, SPARK its application). */
const REAL: Capabilities = (b) => (b === ExecutionBackend.SPARK ? SPARK_SOURCES : ENGINE_SOURCES);

const input = (extra: Partial<CreateJobInput> = {}): CreateJobInput => ({
  name: 'orders',
  source: { type: SourceType.LOCAL, params: { path: '/in/orders.csv' } },
  destination: { schema: 'public', table: 'orders' },
  ...extra,
});

/** The AppError `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an error');
}

describe('validateCreateJob', () => {
  it('normalises names and tags: trimmed, tags de-duplicated in order', () => {
    const job = validateCreateJob(input({ name: '  orders  ', tags: ['b', ' a ', 'b'] }), ANY);
    expect(job.name).toBe('orders');
    expect(job.tags).toEqual(['b', 'a']);
  });

  it('names the field and the rule in its message', () => {
    const e = thrown(() => validateCreateJob(input({ compute: { minWorkers: 4, maxWorkers: 2 } }), ANY));
    expect(e).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.compute.minWorkers' });
    expect(e.message).toBe('input.compute.minWorkers: must not exceed maxWorkers (4 > 2)');
    expect(thrown(() => validateCreateJob(input({ name: '' }), ANY)).message).toBe('input.name: must not be empty');
    expect(thrown(() => validateCreateJob(input({ maxAttempts: 0 }), ANY)).message).toBe('input.maxAttempts: must be between 1 and 100');
  });

  it("refuses jobwire's own schema and PostgreSQL's system schemas as a destination, naming input.destination.schema", () => {
    for (const schema of ['jobwire', 'JobWire', 'pg_catalog', 'pg_toast', 'information_schema']) {
      const e = thrown(() => validateCreateJob(input({ destination: { schema, table: 'jobs' } }), ANY));
      expect(e).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, field: 'input.destination.schema' });
    }
    expect(validateCreateJob(input({ destination: { schema: 'public', table: 'jobs' } }), ANY).destination).toEqual({
      schema: 'public',
      table: 'jobs',
    });
  });

  it('never echoes a param value in a message', () => {
    const e = thrown(() =>
      validateCreateJob(
        input({ source: { type: SourceType.POSTGRES, params: { connectionString: 'mysql://u:topsecret@h/d', table: 't' } } }),
        ANY,
      ),
    );
    expect(e.field).toBe('input.source.params.connectionString');
    expect(e.message).not.toContain('topsecret');
    const h = thrown(() =>
      validateSource({ type: SourceType.HTTP, params: { url: 'https://x/y', headers: { 'X-Key': 'line\nbreak-secret' } } }, 'input'),
    );
    expect(h.field).toBe('input.params.headers.X-Key');
    expect(h.message).not.toContain('break-secret');
  });

  it('refuses formats and modes the LOCAL backend cannot run, and allows them elsewhere', () => {
    expect(thrown(() => validateCreateJob(input({ processing: { format: DataFormat.PARQUET } }), REAL)).field).toBe(
      'input.processing.format',
    );
    expect(thrown(() => validateCreateJob(input({ processing: { mode: ProcessingMode.STREAMING } }), REAL)).field).toBe(
      'input.processing.mode',
    );
    expect(
      validateCreateJob(input({ backend: ExecutionBackend.SPARK, processing: { format: DataFormat.PARQUET } }), REAL).processing.format,
    ).toBe('PARQUET');
  });

  it('refuses a source type the backend cannot execute, naming input.source.type (S3, POSTGRES and KAFKA on LOCAL)', () => {
    const sources: [SourceType, unknown][] = [
      [SourceType.S3, { bucket: 'b', prefix: 'in/', region: 'eu-west-1' }],
      [SourceType.POSTGRES, { connectionString: 'postgresql://u:p@h:5432/db', table: 't' }],
      [SourceType.KAFKA, { brokers: ['h:9092'], topic: 't' }],
    ];
    for (const [type, params] of sources) {
      const e = thrown(() => validateCreateJob(input({ source: { type, params } }), REAL));
      expect(e.field).toBe('input.source.type');
      expect(e.message).toBe(`input.source.type: the LOCAL backend cannot execute ${type} sources; it executes LOCAL, HTTP`);
    }
    // The SPARK application reads PostgreSQL over JDBC.
    const spark = validateCreateJob(
      input({ backend: ExecutionBackend.SPARK, source: sources[1] && { type: sources[1][0], params: sources[1][1] } }),
      REAL,
    );
    expect(spark.source.type).toBe(SourceType.POSTGRES);
  });

  it('leaves maxAttempts and stallTimeoutSeconds unset when not given (the gateway defaults then apply), onStall NONE', () => {
    const job = validateCreateJob(input(), REAL);
    expect([job.maxAttempts, job.stallTimeoutSeconds, job.onStall]).toEqual([null, null, 'NONE']);
    const set = validateCreateJob(input({ maxAttempts: 5, stallTimeoutSeconds: 60, onStall: 'RETRY' as never }), REAL);
    expect([set.maxAttempts, set.stallTimeoutSeconds, set.onStall]).toEqual([5, 60, 'RETRY']);
    expect(thrown(() => validateCreateJob(input({ stallTimeoutSeconds: 0 }), REAL)).field).toBe('input.stallTimeoutSeconds');
    expect(thrown(() => validateCreateJob(input({ onStall: 'LATER' as never }), REAL)).field).toBe('input.onStall');
  });

  it('accepts each source type in its documented shapes', () => {
    const ok: [SourceType, unknown][] = [
      [SourceType.HTTP, { url: 'https://example.com/a.csv', headers: { Authorization: 'Bearer x' } }],
      [SourceType.POSTGRES, { connectionString: 'postgresql://u:p@h:5432/db', query: 'select 1' }],
      [SourceType.POSTGRES, { host: 'h', port: 5433, database: 'db', user: 'u', password: 'p', table: 'sales.orders' }],
      [SourceType.KAFKA, { brokers: ['k1:9092', 'k2:9092'], topic: 'orders.v1', groupId: 'g' }],
      [
        SourceType.S3,
        { bucket: 'my-data', prefix: 'in/', region: 'eu-west-1', accessKeyId: 'A', secretAccessKey: 'S', endpoint: 'http://minio:9000' },
      ],
      [SourceType.SFTP, { host: 'h', port: 22, user: 'u', privateKey: '-----BEGIN KEY-----', path: '/in/*.csv' }],
    ];
    for (const [type, params] of ok) expect(validateSource({ type, params }, 'input.source').params).toEqual(params);
  });

  it('names the exact param of a malformed source', () => {
    const cases: [SourceType, unknown, string][] = [
      [SourceType.POSTGRES, { connectionString: 'postgres://h/db', table: 'orders', query: 'select 1' }, 'input.source.params.query'],
      [SourceType.POSTGRES, { host: 'h', table: 't' }, 'input.source.params.database'],
      [SourceType.POSTGRES, { connectionString: 'postgres://h/db', table: 'drop table x;' }, 'input.source.params.table'],
      [SourceType.KAFKA, { brokers: 'k1:9092', topic: 't' }, 'input.source.params.brokers'],
      [SourceType.KAFKA, { brokers: ['k1:9092', 'k2:99999'], topic: 't' }, 'input.source.params.brokers[1]'],
      [SourceType.KAFKA, { brokers: ['k1:9092'], topic: 'bad topic' }, 'input.source.params.topic'],
      [SourceType.S3, { bucket: 'My_Bucket' }, 'input.source.params.bucket'],
      [SourceType.S3, { bucket: 'ok-bucket', accessKeyId: 'A' }, 'input.source.params.secretAccessKey'],
      [SourceType.SFTP, { host: 'h', path: '/x', password: 'p' }, 'input.source.params.user'],
      [SourceType.HTTP, { url: 'not a url' }, 'input.source.params.url'],
      [SourceType.HTTP, { url: 'https://x/y', headers: ['a'] }, 'input.source.params.headers'],
    ];
    for (const [type, params, field] of cases) {
      expect([type, thrown(() => validateSource({ type, params }, 'input.source')).field]).toEqual([type, field]);
    }
    expect(thrown(() => validateSource({ type: 'FTP' as SourceType, params: {} }, 'input.source')).field).toBe('input.source.type');
    expect(thrown(() => validateSource({ type: SourceType.LOCAL, params: null }, 'input.source')).field).toBe('input.source.params');
  });
});

describe('validateSchedule', () => {
  it('fills in the defaults and stores dates as ISO strings', () => {
    expect(validateSchedule({ cron: ' 0 3 * * * ', startAt: new Date('2030-01-01T00:00:00Z') }, 'input.schedule')).toEqual({
      cron: '0 3 * * *',
      timezone: 'UTC',
      startAt: '2030-01-01T00:00:00.000Z',
      endAt: null,
      retryDelaySeconds: 300,
      enabled: true,
    });
  });

  it('refuses an end that is not after the start', () => {
    const d = new Date('2030-01-01T00:00:00Z');
    expect(thrown(() => validateSchedule({ cron: '0 3 * * *', startAt: d, endAt: d }, 'input.schedule')).field).toBe(
      'input.schedule.endAt',
    );
    expect(thrown(() => validateSchedule({ cron: '0 3 * * *', startAt: 'yesterday' as unknown as Date }, 'input.schedule')).field).toBe(
      'input.schedule.startAt',
    );
  });
});

describe('validateCompute', () => {
  it('merges a partial input over the base and validates the result', () => {
    const base = defaultCompute();
    expect(validateCompute({ maxWorkers: 4, clusterMode: ClusterMode.MULTI_NODE }, base, 'input')).toEqual({
      ...base,
      maxWorkers: 4,
      clusterMode: 'MULTI_NODE',
    });
    expect(thrown(() => validateCompute({ minWorkers: 1 }, base, 'input')).field).toBe('input.minWorkers');
    expect(thrown(() => validateCompute({ minWorkers: 1.5, maxWorkers: 4 }, base, 'input')).field).toBe('input.minWorkers');
    expect(thrown(() => validateCompute({ sparkConf: [1] }, base, 'input')).field).toBe('input.sparkConf');
    expect(validateCompute({ sparkConf: { 'spark.a': 'x', 'spark.b': 2, 'spark.c': true } }, base, 'input').sparkConf).toEqual({
      'spark.a': 'x',
      'spark.b': 2,
      'spark.c': true,
    });
  });

  it('keeps a masked Spark secret and clears sparkConf on null', () => {
    const base = { ...defaultCompute(), sparkConf: { 'spark.hadoop.fs.s3a.secret.key': 'real', 'spark.x': 1 } };
    expect(validateCompute({ sparkConf: { 'spark.hadoop.fs.s3a.secret.key': '***', 'spark.x': 2 } }, base, 'input').sparkConf).toEqual({
      'spark.hadoop.fs.s3a.secret.key': 'real',
      'spark.x': 2,
    });
    expect(validateCompute({ sparkConf: null }, base, 'input').sparkConf).toBeNull();
    expect(validateCompute({ photon: true }, base, 'input').sparkConf).toEqual(base.sparkConf);
  });
});

describe('validateJobUpdate', () => {
  const current = validateCreateJob(
    input({
      source: { type: SourceType.POSTGRES, params: { connectionString: 'postgres://u:pw@h/db', table: 't' } },
      backend: ExecutionBackend.SPARK,
    }),
    REAL,
  );

  it('leaves absent fields as they are and validates the merged job', () => {
    const next = validateJobUpdate({ description: 'new' }, current, REAL);
    expect(next).toEqual({ ...current, description: 'new' });
    expect(thrown(() => validateJobUpdate({ processing: { batchSize: -5 } }, current, REAL)).field).toBe('input.processing.batchSize');
  });

  it('restores masked source secrets before validating', () => {
    const next = validateJobUpdate(
      { source: { type: SourceType.POSTGRES, params: { connectionString: 'postgres://u:***@h/db', table: 't2' } } },
      current,
      REAL,
    );
    expect(next.source.params).toEqual({ connectionString: 'postgres://u:pw@h/db', table: 't2' });
  });

  it('refuses a format the backend cannot read, on the processing path', () => {
    const local = validateCreateJob(input(), REAL);
    expect(thrown(() => validateJobUpdate({ processing: { format: DataFormat.PARQUET } }, local, REAL)).field).toBe(
      'input.processing.format',
    );
  });
});
