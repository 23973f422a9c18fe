import { Writable } from 'node:stream';
import pino from 'pino';
import { makeLoop, type Loop } from '../../workers/loop';
import { deferred, waitFor } from '../helpers/deferred';

/** A real pino logger whose JSON lines the test can read. */
function captureLogger() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const loops: Loop[] = [];
afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
});

function track(loop: Loop): Loop {
  loops.push(loop);
  return loop;
}

describe('makeLoop', () => {
  it('keeps ticking after a tick throws, and logs the error with the loop name', async () => {
    const { logger, lines } = captureLogger();
    let ticks = 0;
    const loop = track(
      makeLoop({
        name: 'flaky',
        intervalMs: 5,
        maxBackoffMs: 20,
        logger,
        tick: async () => {
          ticks += 1;
          if (ticks <= 2) throw new Error(`boom ${ticks}`);
        },
      }),
    );
    await loop.start();
    await waitFor(() => ticks >= 5, 'five ticks', 2000, 5);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(2);
    expect(errors[0].msg).toBe('flaky: tick failed: boom 1');
    expect(errors[0].loop).toBe('flaky');
    expect(errors[1].consecutiveFailures).toBe(2);
  });

  it('backs off exponentially on consecutive errors, up to maxBackoffMs, and recovers after a success', async () => {
    const { logger } = captureLogger();
    const at: number[] = [];
    let failUntil = 4;
    const loop = track(
      makeLoop({
        name: 'down',
        intervalMs: 100,
        maxBackoffMs: 400,
        logger,
        tick: async () => {
          at.push(Date.now());
          if (at.length <= failUntil) throw new Error('database down');
        },
      }),
    );
    await loop.start();
    await waitFor(() => at.length >= 7, 'seven ticks', 6000, 5);
    failUntil = 0;
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // Pauses after failures 1, 2, 3, 4: 200, 400 (capped), 400, 400; then the interval (100) again.
    // Bounds sit halfway between the values they tell apart, so a loaded machine does not flip them.
    expect(gaps[0]).toBeGreaterThanOrEqual(190);
    expect(gaps[0]).toBeLessThan(300);
    expect(gaps[1]).toBeGreaterThanOrEqual(390);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    expect(gaps[3]).toBeGreaterThanOrEqual(390);
    expect(gaps[4]).toBeLessThan(250);
    expect(gaps[5]).toBeLessThan(250);
  });

  it('stop() is idempotent and waits for the tick in progress, after which nothing ticks', async () => {
    const { logger } = captureLogger();
    const inTick = deferred();
    const release = deferred();
    let ticks = 0;
    const loop = track(
      makeLoop({
        name: 'slow',
        intervalMs: 5,
        logger,
        tick: async () => {
          ticks += 1;
          inTick.resolve();
          await release.promise;
        },
      }),
    );
    await loop.start();
    await inTick.promise;
    const first = loop.stop();
    const second = loop.stop();
    expect(second).toBe(first);
    let stopped = false;
    void first.then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    release.resolve();
    await first;
    expect(loop.running).toBe(false);
    const after = ticks;
    await new Promise((r) => setTimeout(r, 50));
    expect(ticks).toBe(after);
    expect(ticks).toBe(1);
  });

  it('start() is idempotent: a second call does not start a second loop', async () => {
    const { logger } = captureLogger();
    let concurrent = 0;
    let maxConcurrent = 0;
    let ticks = 0;
    const loop = track(
      makeLoop({
        name: 'single',
        intervalMs: 1,
        logger,
        tick: async () => {
          concurrent += 1;
          ticks += 1;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          await new Promise((r) => setTimeout(r, 5));
          concurrent -= 1;
        },
      }),
    );
    const a = loop.start();
    const b = loop.start();
    expect(b).toBe(a);
    await waitFor(() => ticks >= 5, 'five ticks', 2000, 5);
    expect(maxConcurrent).toBe(1);
  });

  it('wake() triggers a tick long before the interval has passed', async () => {
    const { logger } = captureLogger();
    let ticks = 0;
    const loop = track(makeLoop({ name: 'sleepy', intervalMs: 60_000, logger, tick: async () => void (ticks += 1) }));
    await loop.start();
    await waitFor(() => ticks === 1, 'the first tick', 1000, 5);
    const woke = Date.now();
    loop.wake();
    await waitFor(() => ticks === 2, 'a tick after wake()', 1000, 5);
    expect(Date.now() - woke).toBeLessThan(500);
  });

  it('wake() during a tick runs the next tick without pausing', async () => {
    const { logger } = captureLogger();
    let ticks = 0;
    const loop: Loop = track(
      makeLoop({
        name: 'busy',
        intervalMs: 60_000,
        logger,
        tick: async () => {
          ticks += 1;
          // Work arrived while this tick ran (e.g. a run was queued): look again at once.
          if (ticks === 1) loop.wake();
        },
      }),
    );
    await loop.start();
    await waitFor(() => ticks === 2, 'the second tick', 1000, 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(ticks).toBe(2);
  });

  it('can be started again after it stopped', async () => {
    const { logger } = captureLogger();
    let ticks = 0;
    const loop = track(makeLoop({ name: 'again', intervalMs: 60_000, logger, tick: async () => void (ticks += 1) }));
    await loop.start();
    await waitFor(() => ticks === 1, 'the first tick', 1000, 5);
    await loop.stop();
    await loop.start();
    await waitFor(() => ticks === 2, 'a tick after restarting', 1000, 5);
    expect(loop.running).toBe(true);
  });
});
