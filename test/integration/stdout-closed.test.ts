/**
 * `npm start | tee log`, then Ctrl-C: the terminal interrupts both processes, tee is gone at once,
 * and every log line the gateway writes while it stops meets a pipe nobody reads (EPIPE). The
 * gateway must stop all the same, with exit code 0, instead of hanging until it is killed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnGateway } from '../helpers/app';
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

  it('stops on SIGINT with exit code 0 within seconds, without an EPIPE stack trace', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-epipe-'));
    disposables.defer(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const gateway = await spawnGateway({ JOBWIRE_DATA_DIR: dataDir });
    disposables.defer(() => gateway.stop());
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      gateway.child.once('exit', (code, signal) => r({ code, signal })),
    );

    // The reading end of the gateway's stdout closes, as when tee dies on Ctrl-C.
    gateway.child.stdout!.destroy();
    gateway.child.kill('SIGINT');

    expect(await within(exited, 10_000, 'still running after 10 s')).toEqual({ code: 0, signal: null });
    expect(gateway.output()).not.toMatch(/EPIPE|Error/);
  }, 60_000);
});
