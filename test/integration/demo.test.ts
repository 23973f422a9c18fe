/**
 * `npm run demo` (the built `dist/scripts/demo.js`, on the embedded default): its gateway listens on
 * `PORT` when that is set, on a free port otherwise, and the story ends as expected (exit code 0)
 * either way.
 */
import { spawn } from 'node:child_process';
import { builtEntry, SERVER_SOURCES } from '../helpers/build';
import { Disposables } from '../helpers/disposables';
import { freePort } from '../helpers/ports';

/** Runs the demo with `env`; `onGateway` is called with its gateway URL while the demo still runs. */
function runDemo(env: Record<string, string>, onGateway: (url: string) => Promise<void>, disposables: Disposables) {
  const child = spawn(process.execPath, [builtEntry('dist/scripts/demo.js', [...SERVER_SOURCES, 'scripts'])], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DEMO_ROWS: '1000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  disposables.defer(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : undefined));
  let output = '';
  let seen: Promise<void> | undefined;
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const url = /gateway\s+(http:\/\/\S+)\/graphql/.exec(output)?.[1];
    if (url && !seen) seen = onGateway(url);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise<{ code: number | null; output: string; checked: Promise<void> | undefined }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output, checked: seen })),
  );
}

describe('npm run demo', () => {
  const disposables = new Disposables();
  afterAll(() => disposables.disposeAll());

  it('serves its gateway on PORT when PORT is set', async () => {
    const port = await freePort();
    let health: number | undefined;
    const demo = await runDemo(
      { PORT: String(port) },
      async (url) => {
        health = (await fetch(`${url}/healthz`)).status;
      },
      disposables,
    );
    await demo.checked;
    expect(demo.output).toContain(`gateway  http://127.0.0.1:${port}/graphql`);
    expect(health).toBe(200);
    expect({ code: demo.code, output: demo.output }).toEqual({ code: 0, output: expect.stringContaining('✓ as expected') });
  }, 120_000);

  it('still runs on a free port when PORT is not set', async () => {
    const demo = await runDemo({}, async () => undefined, disposables);
    expect(demo.output).toMatch(/gateway {2}http:\/\/127\.0\.0\.1:\d+\/graphql/);
    expect({ code: demo.code, output: demo.output }).toEqual({ code: 0, output: expect.stringContaining('✓ as expected') });
  }, 120_000);
});
