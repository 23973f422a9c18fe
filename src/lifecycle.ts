/** Something that starts and stops, idempotently (see {@link makeLifecycle}). */
export interface Lifecycle {
  /** Starts; while starting or started, returns the same promise. After a stop, starts again. */
  start(): Promise<void>;
  /** Stops (after a start in flight has ended); while stopping, returns the same promise. Resolves at once when not started. */
  stop(): Promise<void>;
  /** True from `start()` until the end of `stop()`. */
  readonly running: boolean;
}

/**
 * The one start/stop shape of jobwire's long-lived parts (STYLE.md 14, after BullMQ's `close()`):
 * a second `start()` or `stop()` returns the promise in flight, a stop waits for a start in flight,
 * a start during a stop waits for it and then starts again. `stop` runs even when `start` failed.
 */
export function makeLifecycle(steps: { start: () => Promise<void>; stop: () => Promise<void> }): Lifecycle {
  let started: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  return {
    get running() {
      return started !== null;
    },
    start() {
      if (stopping) return stopping.then(() => this.start());
      return (started ??= steps.start());
    },
    stop() {
      if (!started) return Promise.resolve();
      return (stopping ??= started
        .catch(() => undefined)
        .then(() => steps.stop())
        .finally(() => {
          started = null;
          stopping = null;
        }));
    },
  };
}
