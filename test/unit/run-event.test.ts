/**
 * parseRunEvent / parseRunCommand: what a producer's event becomes (defaults, normal form), and
 * what is refused, each refusal naming the field — that field is what the dead-letter reason and
 * the producer's logs show.
 */
import {
  EventValidationError,
  MAX_MESSAGE_LENGTH,
  parseDeadLetterHeaders,
  parseRunCommand,
  parseRunEvent,
  type AnyRunEvent,
} from '../../src/events/run-event.schema';

const runId = '0b7c8f2e-3d4a-4f5b-9c6d-7e8f9a0b1c2d';
const ev = (type: string, payload: unknown, extra: Record<string, unknown> = {}) => ({ eventId: 'e-1', runId, type, payload, ...extra });
const parsed = (raw: unknown, external = true): AnyRunEvent => parseRunEvent(raw, { external });

/** The error parsing `raw` throws (fails the test when it parses). */
function refusal(raw: unknown, external = true): EventValidationError {
  try {
    parseRunEvent(raw, { external });
  } catch (err) {
    if (err instanceof EventValidationError) return err;
    throw err;
  }
  throw new Error(`parsed, but should have been refused: ${JSON.stringify(raw)}`);
}

describe('parseRunEvent', () => {
  it('returns a status event with the error kind defaulting to PERMANENT', () => {
    const e = parsed(
      ev('run.status', { status: 'FAILED', error: { message: 'boom' } }, { occurredAt: '2026-11-27T19:00:00.000Z', attempt: 2 }),
    );
    expect(e).toMatchObject({ type: 'run.status', runId, eventId: 'e-1', attempt: 2, occurredAt: '2026-11-27T19:00:00.000Z' });
    expect(e.payload).toEqual({ status: 'FAILED', error: { message: 'boom', kind: 'PERMANENT', details: null } });
  });

  it('fills metric counts that are absent or null with 0', () => {
    expect(parsed(ev('run.metrics', { recordsProcessed: 10, throughputRps: null })).payload).toEqual({
      recordsProcessed: 10,
      recordsFailed: 0,
      throughputRps: 0,
      bytesProcessed: 0,
      activeWorkers: 0,
    });
  });

  it('turns a single log line into a batch of one, at level INFO unless told', () => {
    expect(parsed(ev('run.log', { message: 'hello', source: 'driver' })).payload).toEqual({
      lines: [{ level: 'INFO', message: 'hello', source: 'driver' }],
    });
    const batch = parsed(
      ev('run.log', { lines: [{ message: 'a' }, { level: 'WARN', message: 'b', timestamp: '2026-11-27T19:00:00+01:00' }] }),
    );
    expect(batch.payload).toEqual({
      lines: [
        { level: 'INFO', message: 'a' },
        { level: 'WARN', message: 'b', timestamp: '2026-11-27T19:00:00+01:00' },
      ],
    });
  });

  it('accepts a heartbeat with an empty payload from an external producer', () => {
    expect(parsed(ev('run.heartbeat', {}, { attempt: 3 }))).toMatchObject({ type: 'run.heartbeat', attempt: 3, payload: {} });
  });

  it('keeps totalIsEstimate on stage progress', () => {
    expect(parsed(ev('stage.progress', { stage: 'extract', totalItems: 48000, totalIsEstimate: true, increment: 10 })).payload).toEqual({
      stage: 'extract',
      totalItems: 48000,
      totalIsEstimate: true,
      increment: 10,
    });
  });

  it('treats null as absent and drops fields it does not know', () => {
    const e = parsed(ev('stage.progress', { stage: 's', totalItems: null, increment: 1, colour: 'red' }, { producer: null, extra: 1 }));
    expect(e.payload).toEqual({ stage: 's', increment: 1 });
    expect(e).not.toHaveProperty('extra');
    expect(e.producer).toBeUndefined();
  });

  it("accepts jobwire's own retry and cancel events without an eventId, but not from external producers", () => {
    expect(parsed({ runId, type: 'run.cancel', payload: { force: true, reason: 'user' } }, false).payload).toEqual({
      force: true,
      reason: 'user',
    });
    expect(parsed({ runId, type: 'run.retry', payload: {} }, false).payload).toEqual({ manual: false });
    expect(refusal(ev('run.retry', { manual: true })).field).toBe('type');
  });

  it.each<[string, string, unknown, RegExp]>([
    ['an external event without eventId', 'eventId', { runId, type: 'run.status', payload: { status: 'RUNNING' } }, /is required/],
    ['an unknown status', 'payload.status', ev('run.status', { status: 'DONE' }), /must be one of PENDING, QUEUED/],
    ['a negative increment', 'payload.increment', ev('stage.progress', { stage: 's', increment: -1 }), /must be >= 0/],
    ['a fractional count', 'payload.completedItems', ev('stage.progress', { stage: 's', completedItems: 1.5 }), /integer/],
    [
      'increment together with completedItems',
      'payload.increment',
      ev('stage.progress', { stage: 's', increment: 1, completedItems: 5 }),
      /not both/,
    ],
    [
      'an unknown type',
      'type',
      ev('run.exploded', {}),
      /must be one of run\.status, stage\.progress, run\.metrics, run\.log, run\.heartbeat$/,
    ],
    ['no type', 'type', { eventId: 'e', runId, payload: {} }, /is required/],
    ['a runId that is not a uuid', 'runId', ev('run.status', { status: 'RUNNING' }, { runId: 'run-42' }), /uuid/],
    ['a date that is not ISO-8601', 'occurredAt', ev('run.status', { status: 'RUNNING' }, { occurredAt: 'yesterday' }), /ISO-8601/],
    [
      'a date without a time zone',
      'occurredAt',
      ev('run.status', { status: 'RUNNING' }, { occurredAt: '2026-11-27T19:00:00' }),
      /ISO-8601/,
    ],
    [
      'a batch line without message',
      'payload.lines[2].message',
      ev('run.log', { lines: [{ message: 'a' }, { message: 'b' }, { level: 'INFO' }] }),
      /is required/,
    ],
    [
      'a line with a bad timestamp',
      'payload.lines[0].timestamp',
      ev('run.log', { lines: [{ message: 'a', timestamp: 'now' }] }),
      /ISO-8601/,
    ],
    ['a single log line without message', 'payload.message', ev('run.log', { level: 'INFO' }), /is required/],
    ['an empty batch', 'payload.lines', ev('run.log', { lines: [] }), /must not be empty/],
    ['lines that are not a list', 'payload.lines', ev('run.log', { lines: 'a\nb' }), /must be an array/],
    [
      'an over-long message',
      'payload.message',
      ev('run.status', { status: 'RUNNING', message: 'x'.repeat(MAX_MESSAGE_LENGTH + 1) }),
      /at most 65536 characters/,
    ],
    [
      'an error without message',
      'payload.error.message',
      ev('run.status', { status: 'FAILED', error: { kind: 'TRANSIENT' } }),
      /is required/,
    ],
    ['attempt 0', 'attempt', ev('run.heartbeat', {}, { attempt: 0 }), /must be >= 1/],
    ['a payload that is not an object', 'payload', ev('run.metrics', 'fast'), /must be an object/],
    ['a value that is not an object', 'event', 'run.status', /must be a JSON object/],
  ])('refuses %s, naming %s', (_, field, raw, message) => {
    const err = refusal(raw);
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('names the first bad field and lists the others in the message', () => {
    const err = refusal(ev('stage.progress', { stage: '', increment: -1 }, { runId: 'x' }));
    expect(err.field).toBe('runId');
    expect(err.message).toMatch(/^runId: .*; also payload\.stage: must not be empty; also payload\.increment: must be >= 0$/);
  });
});

describe('parseRunCommand', () => {
  const job = {
    source: { type: 'S3', params: { bucket: 'b' }, filePattern: null },
    destination: { schema: 'analytics', table: 'orders' },
    processing: {
      mode: 'BATCH',
      format: 'CSV',
      batchSize: 1000,
      checkpointEnabled: false,
      watermarkSeconds: null,
      triggerIntervalSeconds: null,
    },
    compute: {
      clusterMode: 'SINGLE_NODE',
      instanceType: 'STANDARD',
      minWorkers: 1,
      maxWorkers: 2,
      autoscaling: false,
      photon: false,
      adaptiveQueryExecution: true,
      dynamicPartitionPruning: true,
      costBasedOptimizer: true,
      sparkConf: null,
    },
  };
  const base = { commandId: '5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f', runId, attempt: 1, jobId: runId, issuedAt: '2026-11-27T19:00:00Z' };

  it('returns a start command with its job, and a stop command without one', () => {
    expect(parseRunCommand({ ...base, type: 'start', job })).toEqual({ ...base, type: 'start', job });
    expect(parseRunCommand({ ...base, type: 'stop', job })).toEqual({ ...base, type: 'stop' });
  });

  it.each<[string, string, unknown]>([
    ['a start without job', 'job', { ...base, type: 'start' }],
    ['an unknown command', 'type', { ...base, type: 'pause' }],
    ['a command without attempt', 'attempt', { ...base, attempt: undefined, type: 'stop' }],
    [
      'a bad compute setting',
      'job.compute.minWorkers',
      { ...base, type: 'start', job: { ...job, compute: { ...job.compute, minWorkers: -1 } } },
    ],
  ])('refuses %s, naming %s', (_, field, raw) => {
    expect(() => parseRunCommand(raw)).toThrow(expect.objectContaining({ field }));
  });
});

describe('parseDeadLetterHeaders', () => {
  it('reads the source topic, partition, offset and reason, refusing a partition that is not a number', () => {
    const headers = {
      'jobwire-source-topic': 'jobwire.run-events',
      'jobwire-source-partition': '3',
      'jobwire-source-offset': '42',
      'jobwire-reason': 'runId: is required',
    };
    expect(parseDeadLetterHeaders(headers)).toEqual(headers);
    expect(() => parseDeadLetterHeaders({ ...headers, 'jobwire-source-partition': 'three' })).toThrow(
      expect.objectContaining({ field: 'jobwire-source-partition' }),
    );
  });
});
