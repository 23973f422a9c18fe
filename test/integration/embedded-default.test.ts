import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { DEMO_JOB_NAME } from '../../src/seed';
import { waitFor } from '../helpers/deferred';

/** The embedded default: no DATABASE_URL, no REDIS_URL — PGlite, the in-process bus, the demo job. */
describe('embedded default (PGlite, in-process bus)', () => {
  let app: App;
  let dataDir: string;

  async function gql(query: string, variables: Record<string, unknown> = {}) {
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: any[] };
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-embedded-'));
    app = await createApp(loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' }));
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps its data in the data dir and is ready', async () => {
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(true);
    // The folder LOCAL sources may read by default, beside the shipped samples.
    expect(fs.statSync(path.join(dataDir, 'data')).isDirectory()).toBe(true);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it('creates the demo job, which runs to SUCCEEDED and loads the sample CSV', async () => {
    const jobs = await gql('{ jobs(first: 10) { totalCount edges { node { id name status } } } }');
    expect(jobs.errors).toBeUndefined();
    expect(jobs.data.jobs.totalCount).toBe(1);
    const demo = jobs.data.jobs.edges[0].node;
    expect(demo.name).toBe(DEMO_JOB_NAME);

    const started = await gql('mutation($id: ID!) { startJob(id: $id) { id status number } }', { id: demo.id });
    expect(started.errors).toBeUndefined();
    const runId = started.data.startJob.id;

    const run = await waitFor(
      async () => {
        const r = await gql(
          'query($id: ID!) { run(id: $id) { status progress stages { name status completedItems failedItems totalItems } } }',
          { id: runId },
        );
        return r.data.run.status === 'SUCCEEDED' || r.data.run.status === 'FAILED' ? r.data.run : null;
      },
      'the demo run to finish',
      45_000,
      200,
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.progress).toBe(1);
    expect(run.stages.map((s: { name: string }) => s.name)).toEqual(['extract', 'transform', 'load']);
    expect(run.stages.find((s: { name: string }) => s.name === 'load').completedItems).toBe(5000);

    const count = await app.db.pglite!.query<{ n: number }>('select count(*)::int as n from demo.orders');
    expect(count.rows[0].n).toBe(5000);
  }, 60_000);
});
