import { makeMemoryBus } from '../../src/events/bus';
import { PUBLISHED_AT, stampedJson } from '../../src/events/redis-bus';
import { Topic } from '../../src/events/topics';
import { cached } from '../../src/metrics/cached';
import { makeMetrics } from '../../src/metrics/metrics';
import type { MetricsView } from '../../src/domain';

describe('cached', () => {
  it('makes one call for a burst of callers, serves it for the ttl, then calls again', async () => {
    let t = 0;
    let calls = 0;
    let release!: (n: number) => void;
    const load = () => {
      calls++;
      return new Promise<number>((r) => (release = r));
    };
    const read = cached(load, 5000, () => t);
    const burst = [read(), read(), read()];
    expect(calls).toBe(1);
    release(42);
    expect(await Promise.all(burst)).toEqual([42, 42, 42]);
    t = 4999;
    expect(await read()).toBe(42);
    expect(calls).toBe(1);
    t = 5000;
    const next = read();
    expect(calls).toBe(2);
    release(43);
    expect(await next).toBe(43);
  });

  it('does not keep a failure: the next caller tries again', async () => {
    let calls = 0;
    const read = cached(
      () => (++calls === 1 ? Promise.reject(new Error('database away')) : Promise.resolve('ok')),
      5000,
      () => 0,
    );
    await expect(read()).rejects.toThrow('database away');
    expect(await read()).toBe('ok');
    expect(calls).toBe(2);
  });
});

describe('the bus envelope', () => {
  it('adds the publish time to a JSON object, which parses back to the payload and the time', () => {
    const payload = { runId: 'r1', recordsProcessed: 3, nested: { a: [1, 2] } };
    const parsed = JSON.parse(stampedJson(payload, 1700000000123));
    expect(parsed[PUBLISHED_AT]).toBe(1700000000123);
    delete parsed[PUBLISHED_AT];
    expect(parsed).toEqual(payload);
    expect(JSON.parse(stampedJson({}, 5))).toEqual({ [PUBLISHED_AT]: 5 });
  });

  it('leaves what is not an object as it is', () => {
    expect(stampedJson([1, 2], 5)).toBe('[1,2]');
    expect(stampedJson('x', 5)).toBe('"x"');
    expect(stampedJson(7, 5)).toBe('7');
  });

  it('in process: knows when a received payload was published, and nothing of values that were not', async () => {
    const bus = makeMemoryBus('unit:');
    const sub = await bus.subscribe(Topic.RUN_METRICS, 'r1');
    const sample = { runId: 'r1', recordsProcessed: 1 } as MetricsView;
    const before = Date.now();
    await bus.publish(Topic.RUN_METRICS, 'r1', sample);
    const { value } = await sub.next();
    // The very object published, untouched: no field added for clients to see.
    expect(value).toBe(sample);
    expect(Object.keys(value)).toEqual(['runId', 'recordsProcessed']);
    expect(bus.publishedAt(value)).toBeGreaterThanOrEqual(before);
    expect(bus.publishedAt(value)).toBeLessThanOrEqual(Date.now());
    expect(bus.publishedAt({ ...sample })).toBeUndefined();
    expect(bus.publishedAt(null)).toBeUndefined();
    sub.close();
    await bus.close();
  });
});

describe('makeMetrics', () => {
  const sampleOf = async (m: ReturnType<typeof makeMetrics>, name: string) =>
    (await m.registry.getSingleMetric(name)!.get()).values.map((v) => ({ labels: v.labels, value: v.value }));

  it('counts events by source and outcome, with Prometheus-friendly outcome names', async () => {
    const m = makeMetrics({ defaultMetrics: false });
    m.runEvents.events('kafka', 'applied', 3);
    m.runEvents.events('kafka', 'unknown-run');
    m.runEvents.events('kafka', 'applied');
    expect(await sampleOf(m, 'jobwire_run_events_total')).toEqual([
      { labels: { source: 'kafka', outcome: 'applied' }, value: 4 },
      { labels: { source: 'kafka', outcome: 'unknown_run' }, value: 1 },
    ]);
  });

  it('times deliveries from the publish time, a publish from a clock ahead counting as no time', async () => {
    let now = 10_000;
    const m = makeMetrics({ defaultMetrics: false, now: () => now, publishedAt: (e) => (e as { at?: number }).at });
    expect(m.ws.publishedAt({ at: 9_990 })).toBe(9_990);
    expect(m.ws.publishedAt({})).toBeUndefined();
    m.ws.delivered(9_990);
    now = 9_000;
    m.ws.delivered(9_500);
    const values = (await m.registry.getSingleMetric('jobwire_publish_to_delivery_seconds')!.get()).values as {
      metricName?: string;
      labels: Record<string, unknown>;
      value: number;
    }[];
    expect(values.find((v) => v.metricName === 'jobwire_publish_to_delivery_seconds_count')?.value).toBe(2);
    expect(values.find((v) => v.metricName === 'jobwire_publish_to_delivery_seconds_sum')?.value).toBeCloseTo(0.01);
    expect(values.find((v) => v.metricName === 'jobwire_publish_to_delivery_seconds_bucket' && v.labels.le === 0.0005)?.value).toBe(1);
  });

  it('keeps one registry per gateway: two of them in one process do not clash', async () => {
    const a = makeMetrics();
    const b = makeMetrics();
    a.ws.connectionOpened();
    expect(await sampleOf(a, 'jobwire_websocket_connections')).toEqual([{ labels: {}, value: 1 }]);
    expect(await sampleOf(b, 'jobwire_websocket_connections')).toEqual([{ labels: {}, value: 0 }]);
    expect(await a.registry.metrics()).toContain('process_cpu_seconds_total');
  });
});
