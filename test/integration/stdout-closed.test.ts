/**
 * `npm start | tee log`, then Ctrl-C: the terminal interrupts both processes, tee is gone at once,
 * and every log line the gateway writes while it stops meets a pipe nobody reads (EPIPE). The
 * gateway must stop all the same, with exit code 0, instead of hanging until it is killed.
 */
import { spawnGateway } from '../helpers/app';
import { createTestDatabase } from '../helpers/db';
import { Disposables } from '../helpers/disposables';

/** Resolves with what `promise` gives, or with `late` when that takes longer than `ms`. */
function within<T, L>(promise: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((r) => (timer = setTimeout(() => r(late), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('a gateway whose stdout nobody reads any more', () => {
  const disposables = new Disposables();
  afterAll(() => disposables.disposeAll());

  it('stops on SIGINT with exit code 0, without an EPIPE stack trace', async () => {
    const db = disposables.add(await createTestDatabase('epipe'), (d) => d.drop());
    const gateway = await spawnGateway({ DATABASE_URL: db.url });
    disposables.defer(() => gateway.stop());
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      gateway.child.once('exit', (code, signal) => r({ code, signal })),
    );

    // The reading end of the gateway's stdout closes, as when tee dies on Ctrl-C. Before the fix it
    // never exited; a minute tells a hang from a slow machine.
    gateway.child.stdout!.destroy();
    gateway.child.kill('SIGINT');

    expect(await within(exited, 60_000, 'still running after 60 s')).toEqual({ code: 0, signal: null });
    expect(gateway.output()).not.toMatch(/EPIPE|Error/);
  }, 240_000);
});
