import type { PGlite } from '@electric-sql/pglite';

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const END = /^\s*(commit|end|rollback(?!\s+to\b)|abort)\b/i;

/**
 * PGlite is one PostgreSQL session. Its own mutex runs one statement at a time, but a transaction
 * opened with a plain `BEGIN` (as the ORM's query builder does) lets any other caller's statements
 * land inside it. The gate makes the session exclusive for a whole transaction, whoever opens it:
 *
 * - {@link exclusive}: `fn` has the session to itself (plain SQL transactions, bulk loads);
 * - {@link facade}: a PGlite look-alike for the ORM, whose `BEGIN` takes the gate and whose
 *   `COMMIT`/`ROLLBACK` gives it back; its statements outside a transaction take it one at a time.
 *
 * Waiters are served in arrival order, so a long series of short transactions cannot starve the
 * API. Keep what runs under the gate short: every other user of the database waits for it.
 */
export class PgliteGate {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly pglite: PGlite) {}

  /** Waits for the session, runs `fn`, and gives the session back however `fn` ends. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const before = this.tail;
    this.tail = before.then(() => mine);
    return before.then(() => release);
  }

  /**
   * The PGlite the ORM is given: `query`, `exec` and `transaction` go through the gate (a `BEGIN`
   * holds it until the transaction ends); everything else is the real instance's.
   */
  facade(): PGlite {
    let held: (() => void) | null = null;
    const acquire = () => this.acquire();
    const exclusive = <T>(fn: () => Promise<T>) => this.exclusive(fn);
    const pglite = this.pglite;
    const run = async <T>(sql: string, call: () => Promise<T>): Promise<T> => {
      if (held) {
        try {
          return await call();
        } finally {
          if (END.test(sql)) {
            const release = held;
            held = null;
            release?.();
          }
        }
      }
      if (BEGIN.test(sql)) {
        const release = await acquire();
        try {
          const result = await call();
          held = release;
          return result;
        } catch (err) {
          release();
          throw err;
        }
      }
      return exclusive(call);
    };
    return new Proxy(pglite, {
      get(target, prop, receiver) {
        if (prop === 'query')
          return (sql: string, params?: unknown[], opts?: unknown) => run(sql, () => target.query(sql, params, opts as never));
        if (prop === 'exec') return (sql: string, opts?: unknown) => run(sql, () => target.exec(sql, opts as never));
        if (prop === 'transaction') return (fn: Parameters<PGlite['transaction']>[0]) => exclusive(() => target.transaction(fn));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}
