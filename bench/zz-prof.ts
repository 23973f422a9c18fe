import crypto from 'node:crypto';
import inspector from 'node:inspector';
import fs from 'node:fs';
import { loadConfig } from '/work/main/src/config';
import { buildCore } from '/work/main/src/core';
import { migrate, openPostgres } from '/work/main/src/db/orm';
import { RunStatus, RunTrigger, SourceType } from '/work/main/src/domain';
import { makeMemoryBus } from '/work/main/src/events/bus';
import { makeLogger } from '/work/main/src/logger';
import { benchEnv, scratchDatabase } from '/work/main/bench/lib';
(async () => {
  const scratch = await scratchDatabase(benchEnv(), 'prof');
  const db = await openPostgres(scratch.url);
  await migrate(db.orm);
  const core = buildCore({ db, bus: makeMemoryBus(), config: loadConfig({}, {}), logger: makeLogger('silent') });
  const job = await core.jobs.create({
    name: 'b',
    source: { type: SourceType.LOCAL, params: { path: '/x.csv' } },
    destination: { schema: 'public', table: 'b' },
  });
  const { run } = await core.runEvents.createRun(job.id, RunTrigger.MANUAL);
  await core.runEvents.apply({ runId: run.id, type: 'run.status', payload: { status: RunStatus.RUNNING } });
  for (let s = 0; s < 10; s++)
    await core.runEvents.apply({ runId: run.id, type: 'stage.progress', payload: { stage: `s${s}`, totalItems: 1e9 } });
  const session = new inspector.Session();
  session.connect();
  const post = (m: string, p?: object) => new Promise<any>((res, rej) => session.post(m, p as never, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.start');
  const N = 2000;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  for (let i = 0; i < N; i++)
    await core.runEvents.apply({
      eventId: crypto.randomUUID(),
      runId: run.id,
      type: 'stage.progress',
      payload: { stage: `s${i % 10}`, increment: 1 },
    });
  const cpu = process.cpuUsage(cpu0);
  console.log('events/s', (N / ((Date.now() - t0) / 1000)).toFixed(0), 'cpu us/event', ((cpu.user + cpu.system) / N).toFixed(0));
  const { profile } = await post('Profiler.stop');
  fs.writeFileSync('/tmp/prof/loop.cpuprofile', JSON.stringify(profile));
  await db.close();
  await scratch.drop();
})();
