import { setTimeout as sleep } from 'node:timers/promises';
import { coerceError } from '../src/errors';
import { makeLifecycle } from '../src/lifecycle';
import type { Logger } from '../src/logger';

/** Options of {@link makeLoop}. */
export interface LoopOptions {
  /** Names the loop in logs and error messages, e.g. `scheduler`. */
  name: string;
  /** Pause between the end of one tick and the start of the next, in ms. */
  intervalMs: number;
  /**
   * One unit of work. A rejection is logged (coerced, prefixed with the loop name) and never ends
   * the loop; consecutive rejections stretch the pause (see {@link maxBackoffMs}).
   */
  tick: () => Promise<void>;
  logger: Logger;
  /**
   * Longest pause after consecutive failed ticks. The pause doubles per failure, from
   * `2 × intervalMs`, up to this. Default `max(intervalMs, 30 s)`.
   */
  maxBackoffMs?: number;
  /** The pause itself (tests inject their own clock); resolves after `ms` or when `signal` aborts. Default `timers/promises`. */
  pause?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A background loop: `while (!stopping) { tick; sleep }`. */
export interface Loop {
  /** Starts ticking at once. Idempotent: while running, returns the same promise. */
  start(): Promise<void>;
  /**
   * Aborts the current pause, waits for a tick in progress to finish, and resolves when the loop
   * has ended. Idempotent: a second call returns the promise in flight. The loop can be started again.
   */
  stop(): Promise<void>;
  /**
   * Asks for a tick now: cuts the current pause short, or, when called during a tick, skips the
   * next pause. Ignored while backing off after errors (so an event storm cannot hammer a failing
   * dependency) and when stopped.
   */
  wake(): void;
  /** True between `start()` and the end of `stop()`. */
  readonly running: boolean;
}

const DEFAULT_MAX_BACKOFF_MS = 30_000;

const defaultPause = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => undefined);

/**
 * The one loop shape of jobwire's background workers (STYLE.md item 12, after pg-boss's Worker):
 * an abortable pause between ticks, back-off on consecutive errors, `stop()` that aborts the pause
 * and awaits the loop.
 */
export function makeLoop(opts: LoopOptions): Loop {
  const maxBackoffMs = opts.maxBackoffMs ?? Math.max(opts.intervalMs, DEFAULT_MAX_BACKOFF_MS);
  const pause = opts.pause ?? defaultPause;
  let stopping = false;
  let active = false;
  let woken = false;
  let backingOff = false;
  let runPromise: Promise<void> | null = null;
  let cut: AbortController | null = null;

  const rest = async (ms: number) => {
    cut = new AbortController();
    try {
      await pause(ms, cut.signal);
    } finally {
      cut = null;
    }
  };

  async function run() {
    let failures = 0;
    const backoff = () => Math.min(maxBackoffMs, opts.intervalMs * 2 ** failures);
    while (!stopping) {
      woken = false;
      try {
        await opts.tick();
        failures = 0;
      } catch (err) {
        failures += 1;
        const e = coerceError(err);
        opts.logger.error(
          { err: e, loop: opts.name, consecutiveFailures: failures, nextTickInMs: backoff() },
          `${opts.name}: tick failed: ${e.message}`,
        );
      }
      if (stopping) break;
      if (failures > 0) {
        backingOff = true;
        await rest(backoff());
        backingOff = false;
      } else if (!woken) {
        await rest(opts.intervalMs);
      }
    }
  }

  const lifecycle = makeLifecycle({
    async start() {
      stopping = false;
      active = true;
      runPromise = run();
    },
    async stop() {
      stopping = true;
      cut?.abort();
      try {
        await runPromise;
      } finally {
        active = false;
        runPromise = null;
      }
    },
  });

  return {
    get running() {
      return active;
    },
    start: () => lifecycle.start(),
    stop: () => lifecycle.stop(),
    wake() {
      if (stopping || !active || backingOff) return;
      woken = true;
      cut?.abort();
    },
  };
}
