/**
 * The `jobwire` command line (the built dist/cli/main.js, spawned as a user runs it) against a real
 * gateway on PostgreSQL and Redis with the LOCAL executor: list jobs, start one by name, watch runs
 * to their outcome (exit code 0, 1, 3), stop a run, read and follow logs, authenticate with a token.
 * Run `npm run build` first (the test says so when the build is stale).
 */
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import {
  CreateJobDocument,
  RunDocument,
  StartJobDocument,
  createJobwireClient,
  type CreateJobInput,
  type JobwireClient,
} from '../../client';
import type { App } from '../../src/app';
import { hashToken } from '../../src/auth/api-tokens';
import { loadConfig } from '../../src/config';
import { startTestApp } from '../helpers/app';
import { builtEntry, CLI_SOURCES } from '../helpers/build';
import { createTestDatabase, uniqueRedisPrefix } from '../helpers/db';
import { waitFor } from '../helpers/deferred';
import { Disposables } from '../helpers/disposables';

const ROOT = path.resolve(__dirname, '../..');
const SAMPLE = path.join(ROOT, 'samples/orders.csv');
const disposables = new Disposables();
let entry: string;
let app: App;
let client: JobwireClient;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with `args` (against `app` unless JOBWIRE_URL is given) and resolves when it exits. */
function jobwire(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', JOBWIRE_URL: app.url, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`jobwire ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const suffix = () => crypto.randomBytes(3).toString('hex');
async function createJob(over: Partial<CreateJobInput> = {}) {
  const input: CreateJobInput = {
    name: `cli-${suffix()}`,
    source: { type: 'LOCAL', params: { path: SAMPLE } },
    destination: { schema: 'public', table: `cli_${suffix()}` },
    ...over,
  };
  return (await client.request(CreateJobDocument, { input })).createJob;
}
const runStatus = async (id: string) => (await client.request(RunDocument, { id })).run?.status;

beforeAll(async () => {
  entry = builtEntry('dist/cli/main.js', CLI_SOURCES);
  const db = await createTestDatabase('cli');
  disposables.defer(() => db.drop());
  app = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('cli') });
  disposables.defer(() => app.stop());
  client = createJobwireClient({ url: app.url, webSocketImpl: WebSocket });
  disposables.defer(() => client.close());
});
afterAll(() => disposables.disposeAll());

it('lists a created job with its id, backend and schedule; --search filters and --json prints the jobs', async () => {
  const job = await createJob({ schedule: { cron: '0 6 * * *', timezone: 'Europe/Berlin', enabled: false } });
  const listed = await jobwire(['jobs']);
  expect(listed.code).toBe(0);
  const [header, ...rows] = listed.stdout.trim().split('\n');
  expect(header.split(/\s{2,}/)).toEqual(['NAME', 'ID', 'LAST RUN', 'BACKEND', 'SCHEDULE']);
  const row = rows.find((r) => r.startsWith(job.name));
  expect(row?.split(/\s{2,}/)).toEqual([job.name, job.id, '-', 'LOCAL', '0 6 * * * Europe/Berlin (paused)']);

  const json = await jobwire(['jobs', '--search', job.name, '--json']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ id: job.id, name: job.name, latestRun: null })]);
});

it('runs --tag and --backend list only the runs of jobs with that tag, on that backend', async () => {
  const tag = `cli-tag-${suffix()}`;
  const tagged = await createJob({ tags: [tag] });
  await createJob({ tags: ['other'] }).then((j) => client.request(StartJobDocument, { id: j.id }));
  const run = (await client.request(StartJobDocument, { id: tagged.id })).startJob;
  const listed = await jobwire(['runs', '--tag', tag, '--json']);
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout).map((r: { id: string }) => r.id)).toEqual([run.id]);
  const none = await jobwire(['runs', '--tag', tag, '--backend', 'KAFKA', '--json']);
  expect(JSON.parse(none.stdout)).toEqual([]);
});

it('starts a job by its name and watches the run to SUCCEEDED: exit 0, stages at 100 %, log lines', async () => {
  const job = await createJob();
  const started = await jobwire(['start', job.name]);
  expect(started.code).toBe(0);
  const runId = /started run (\S+) \(/.exec(started.stdout)?.[1];
  expect(started.stdout).toContain(`(${job.name} #1, attempt 1)`);
  expect(runId).toBeDefined();

  const watched = await jobwire(['watch', runId!]);
  expect(watched.code).toBe(0);
  const lines = watched.stdout.trim().split('\n');
  expect(lines.at(-1)).toMatch(new RegExp(`^run ${job.name} #1 {2}SUCCEEDED {2}attempt 1 {2}100 %`));
  const stages = lines.filter((l) => l.startsWith('stage '));
  expect(stages.length).toBeGreaterThan(0);
  expect(stages.filter((l) => / 100 % .*COMPLETED$/.test(l)).length).toBeGreaterThan(0);
  expect(lines.some((l) => /^log \S+ INFO /.test(l))).toBe(true);
  expect(watched.stdout).not.toContain('\x1b['); // not a terminal: plain lines, no redraws or colours
  expect(await runStatus(runId!)).toBe('SUCCEEDED');

  // `runs` shows it, and `jobs` now has its latest run.
  const runs = await jobwire(['runs', '--job', job.name]);
  expect(runs.code).toBe(0);
  expect(runs.stdout).toMatch(new RegExp(`${runId}\\s+${job.name}\\s+1\\s+SUCCEEDED\\s+1\\s+LOCAL\\s+100 %`));
  const jobs = await jobwire(['jobs', '--search', job.name]);
  expect(jobs.stdout).toContain('SUCCEEDED #1');
});

it('watches a run that fails (a missing source file) and exits with the FAILED code, saying why', async () => {
  const job = await createJob({ source: { type: 'LOCAL', params: { path: path.join(os.tmpdir(), `missing-${suffix()}.csv`) } } });
  const started = await jobwire(['start', job.id, '--watch']);
  expect(started.code).toBe(1);
  expect(started.stdout.trim().split('\n').at(-1)).toMatch(/^run .* FAILED .*: PERMANENT: /);
});

it('stops a slow run, and watch exits with the CANCELLED code', async () => {
  const job = await createJob({ processing: { batchSize: 100, maxRowsPerSecond: 200 } }); // 5,000 rows: 25 s
  const started = await jobwire(['start', job.name, '--quiet']);
  const runId = started.stdout.trim();
  expect(started.code).toBe(0);
  const watching = jobwire(['watch', runId]);
  await waitFor(async () => (await runStatus(runId)) === 'RUNNING', 'the slow run to be RUNNING', 20_000);
  const stopped = await jobwire(['stop', runId, '--json']);
  expect(stopped.code).toBe(0);
  expect(JSON.parse(stopped.stdout)).toMatchObject({ id: runId, status: expect.stringMatching(/^CANCELL(ING|ED)$/) });
  const watched = await watching;
  expect(watched.code).toBe(3);
  expect(watched.stdout.trim().split('\n').at(-1)).toMatch(/^run .* CANCELLED /);
});

describe('logs', () => {
  let runId: string;
  beforeAll(async () => {
    // Two rows with a column too many: WARN lines among the INFO ones.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-cli-'));
    const file = path.join(dir, 'bad-rows.csv');
    const rows = Array.from({ length: 60 }, (_, i) => (i === 10 || i === 20 ? `${i},x,extra` : `${i},x`));
    fs.writeFileSync(file, ['id,name', ...rows].join('\n') + '\n');
    const job = await createJob({ source: { type: 'LOCAL', params: { path: file } } });
    runId = (await jobwire(['start', job.id, '-q'])).stdout.trim();
    expect((await jobwire(['watch', runId])).code).toBe(0);
  });

  it('prints the stored lines; --level WARN only the warnings and errors', async () => {
    const all = await jobwire(['logs', runId]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/ INFO /);
    const warn = await jobwire(['logs', runId, '--level', 'WARN']);
    expect(warn.code).toBe(0);
    const lines = warn.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((l) => / (WARN|ERROR) /.test(l))).toBe(true);
    expect(warn.stdout).toContain('bad row at line 12');
  });

  it('--after starts after a cursor, and --json prints each line with its seq', async () => {
    const json = (await jobwire(['logs', runId, '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(json.length).toBeGreaterThan(2);
    const rest = (await jobwire(['logs', runId, '--json', '--after', json[1].seq])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rest.map((l) => l.seq)).toEqual(json.slice(2).map((l) => l.seq));
  });

  it('--follow prints the lines as they come and ends when the run ends', async () => {
    const job = await createJob({ processing: { batchSize: 250, maxRowsPerSecond: 2000 } }); // about 2.5 s
    const id = (await jobwire(['start', job.id, '-q'])).stdout.trim();
    const followed = await jobwire(['logs', id, '--follow']);
    expect(followed.code).toBe(0);
    expect(await runStatus(id)).toBe('SUCCEEDED');
    // Everything stored, in order, nothing twice.
    expect(followed.stdout).toBe((await jobwire(['logs', id])).stdout);
  });
});

it('reports an unknown run as NOT_FOUND, a bad command line as a usage error, and a gateway not there as unreachable', async () => {
  const missing = await jobwire(['stop', crypto.randomUUID()]);
  expect(missing.code).toBe(4);
  expect(missing.stderr).toMatch(/^jobwire: NOT_FOUND: /);
  const noJob = await jobwire(['start', 'no-such-job']);
  expect(noJob.code).toBe(4);
  expect(noJob.stderr).toContain('no job named "no-such-job"');
  const usage = await jobwire(['runs', '--status', 'DONE']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('--status must be one of');
  const down = await jobwire(['jobs'], { JOBWIRE_URL: 'http://127.0.0.1:9' });
  expect(down.code).toBe(8);
  expect(down.stderr).toMatch(/^jobwire: NETWORK: .*is a gateway listening at http:\/\/127\.0\.0\.1:9/);
});

describe('with credentials required', () => {
  const TOKEN = 'cli-test-viewer-token-0123456789';
  let secured: App;
  beforeAll(async () => {
    const db = await createTestDatabase('cli_auth');
    disposables.defer(() => db.drop());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-cli-'));
    const tokensFile = path.join(dir, 'tokens');
    fs.writeFileSync(tokensFile, `viewer:${hashToken(TOKEN).toString('hex')}:cli\n`);
    const { auth } = loadConfig({ API_TOKENS_FILE: tokensFile });
    secured = await startTestApp({ databaseUrl: db.url, redisPrefix: uniqueRedisPrefix('cli_auth'), workers: false, auth });
    disposables.defer(() => secured.stop());
  });

  it('sends --token (or JOBWIRE_TOKEN); without one it exits with the UNAUTHENTICATED code, on HTTP and on the WebSocket', async () => {
    const env = { JOBWIRE_URL: secured.url };
    expect(await jobwire(['jobs', '--token', TOKEN], env)).toMatchObject({ code: 0, stderr: 'no jobs\n' });
    expect((await jobwire(['jobs'], { ...env, JOBWIRE_TOKEN: TOKEN })).code).toBe(0);
    const denied = await jobwire(['jobs'], env);
    expect(denied.code).toBe(5);
    expect(denied.stderr).toMatch(/^jobwire: UNAUTHENTICATED: .*\(--token or JOBWIRE_TOKEN\)/);
    expect((await jobwire(['watch', crypto.randomUUID()], env)).code).toBe(5);
    // Authenticated, the socket's operation runs: an unknown run is NOT_FOUND; a viewer may not start runs.
    expect((await jobwire(['watch', crypto.randomUUID(), '--token', TOKEN], env)).code).toBe(4);
    expect((await jobwire(['stop', crypto.randomUUID(), '--token', TOKEN], env)).code).toBe(6);
    expect(denied.stderr).not.toContain(TOKEN);
  });
});

it('runs as `npx jobwire` from the repository root, and prints its help', async () => {
  const { stdout } = await promisify(execFile)('npx', ['--no-install', 'jobwire', '--help'], {
    cwd: ROOT,
    env: { ...process.env, CI: '1' },
  });
  expect(stdout).toContain('Usage: jobwire <command>');
  expect(stdout).toMatch(/watch <run> +follow a run live/);
  expect(stdout).toContain('Exit codes:');
  const { stdout: help } = await promisify(execFile)(process.execPath, [entry, 'logs', '--help'], { cwd: ROOT });
  expect(help).toContain('--follow');
});
