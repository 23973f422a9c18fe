/**
 * On the embedded default (PGlite: one session shared by the whole gateway) the API stays
 * responsive while a LOCAL run loads. The measure is the load itself, not the clock: the demo job
 * is paced at 400 rows/s, so the rows loaded between a client's request and its answer say how
 * long the answer took — however fast or slow the machine (a slow machine also loads slower).
 * (The 2.7–6.2 s first messages once reported did not reproduce on this machine, before or after
 * the session gate and the 64 KiB COPYs: this guards the behaviour; bench figures are in the
 * issue note.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { DEMO_JOB_NAME } from '../../src/seed';
import { StageProgressDocument, StartJobDocument } from '../generated/graphql';
import { waitFor } from '../helpers/deferred';
import { gql, ok } from '../helpers/http';
import { createWsClient } from '../helpers/ws-client';

/** Rows the paced demo load gets through in one second. */
const ONE_SECOND_OF_ROWS = 400;

describe('embedded default under load', () => {
  let app: App;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-responsive-'));
    app = await createApp(loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' }));
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers subscriptions and new WebSocket clients within a second of loading while the demo job runs', async () => {
    const url = `${app.url}/graphql`;
    const demo = (await app.jobs.list({ search: 'demo' }, { first: 5 })).edges.find((e) => e.node.name === DEMO_JOB_NAME)!.node;
    const run = ok(await gql(url, StartJobDocument, { id: demo.id })).startJob;
    const loaded = async () => (await app.runs.stages(run.id)).find((s) => s.name === 'load')?.completedItems ?? 0;
    await waitFor(async () => (await loaded()) > 0, 'the load to begin', 30_000);
    const lags: number[] = [];
    for (let i = 0; i < 15 && (await loaded()) < 4800; i++) {
      const before = await loaded();
      // A new client: the handshake and the subscription's first message, while rows load.
      const ws = await createWsClient(`${app.url.replace(/^http/, 'ws')}/graphql`);
      const sub = ws.subscribe(StageProgressDocument, { runId: run.id });
      const first: { name: string; completedItems: number }[] = [];
      // The snapshot: one message per stage, the load among them.
      while (!first.some((s) => s.name === 'load')) first.push((await sub.next(30_000)).data!.stageProgress);
      const atAnswer = first.find((s) => s.name === 'load')!.completedItems;
      lags.push(atAnswer - before);
      sub.dispose();
      await ws.dispose();
    }
    expect(lags.length).toBeGreaterThan(0);
    expect(lags.filter((rows) => rows >= ONE_SECOND_OF_ROWS)).toEqual([]);
  }, 120_000);
});
