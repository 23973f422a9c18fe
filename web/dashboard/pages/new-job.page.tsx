/**
 * Create a job: name, source (with a connection test), destination, processing, compute (from a
 * preset) and an optional schedule. The API validates; its BAD_USER_INPUT errors name the input
 * field (`input.source.params.path`) and appear beside that field.
 */
import { useState, type FormEvent } from 'react';
import {
  CreateJobDocument,
  SourceTypesDocument,
  TestSourceConnectionDocument,
  type CreateJobInput,
  type DataFormat,
  type ExecutionBackend,
  type ProcessingMode,
  type SourceConfigInput,
  type SourceType,
  type TestSourceConnectionMutation,
} from '../../../client/generated/graphql';
import { JobwireError } from '../../../client/jobwire-client';
import { Checkbox, COMPUTE_PATHS, ComputeFields, type ComputeValues } from '../components/compute-fields';
import { errorFor, Field, ownerOf } from '../components/field';
import { ErrorNotice, PageHeader } from '../components/notice';
import { useMutation, useQuery } from '../lib/hooks';
import { href, navigate } from '../lib/router';
import { useSession } from '../lib/session';

const PATHS = [
  'input.name',
  'input.description',
  'input.tags',
  'input.backend',
  'input.maxAttempts',
  'input.source',
  'input.source.type',
  'input.source.params',
  'input.source.params.path',
  'input.source.params.url',
  'input.source.filePattern',
  'input.destination.schema',
  'input.destination.table',
  'input.processing.mode',
  'input.processing.format',
  'input.processing.batchSize',
  'input.processing.maxRowsPerSecond',
  ...COMPUTE_PATHS.map((p) => `input.compute.${p}`),
  'input.compute',
  'input.schedule.cron',
  'input.schedule.timezone',
  'input.schedule',
];

interface Form {
  name: string;
  description: string;
  tags: string;
  backend: ExecutionBackend;
  sourceType: SourceType;
  path: string;
  url: string;
  params: string;
  filePattern: string;
  schema: string;
  table: string;
  mode: ProcessingMode;
  format: DataFormat;
  batchSize: string;
  maxRowsPerSecond: string;
  maxAttempts: string;
  compute: ComputeValues;
  scheduled: boolean;
  cron: string;
  timezone: string;
}

const INITIAL: Form = {
  name: '',
  description: '',
  tags: '',
  backend: 'LOCAL',
  sourceType: 'LOCAL',
  path: '',
  url: '',
  params: '{\n  \n}',
  filePattern: '',
  schema: 'public',
  table: '',
  mode: 'BATCH',
  format: 'AUTO',
  batchSize: '10000',
  maxRowsPerSecond: '',
  maxAttempts: '',
  // The gateway's "small" preset, its default for new jobs.
  compute: { clusterMode: 'SINGLE_NODE', instanceType: 'STANDARD', minWorkers: 0, maxWorkers: 0, autoscaling: false, photon: false },
  scheduled: false,
  cron: '0 * * * *',
  timezone: 'UTC',
};

type FieldError = { field?: string; message: string };

/** The source part of the input; throws a field error when the JSON parameters do not parse. */
function sourceOf(f: Form): SourceConfigInput {
  let params: unknown;
  if (f.sourceType === 'LOCAL') params = { path: f.path };
  else if (f.sourceType === 'HTTP') params = { url: f.url };
  else {
    try {
      params = JSON.parse(f.params);
    } catch (e) {
      throw { field: 'input.source.params', message: `is not valid JSON: ${(e as Error).message}` } satisfies FieldError;
    }
  }
  return { type: f.sourceType, params, filePattern: f.filePattern.trim() || null };
}

const optionalInt = (s: string) => (s.trim() === '' ? null : Number(s));

function inputOf(f: Form): CreateJobInput {
  return {
    name: f.name,
    description: f.description.trim() || null,
    tags: f.tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    backend: f.backend,
    source: sourceOf(f),
    destination: { schema: f.schema, table: f.table },
    processing: { mode: f.mode, format: f.format, batchSize: Number(f.batchSize), maxRowsPerSecond: optionalInt(f.maxRowsPerSecond) },
    compute: f.compute,
    schedule: f.scheduled ? { cron: f.cron, timezone: f.timezone } : null,
    maxAttempts: optionalInt(f.maxAttempts),
  };
}

const asFieldError = (e: unknown): FieldError => (e instanceof JobwireError ? { field: e.field, message: e.message } : (e as FieldError));

export function NewJobPage() {
  const [form, setForm] = useState<Form>(INITIAL);
  const [error, setError] = useState<FieldError | null>(null);
  const [test, setTest] = useState<TestSourceConnectionMutation['testSourceConnection'] | null>(null);
  const sourceTypes = useQuery(SourceTypesDocument, {});
  const { client } = useSession();
  const [creating, setCreating] = useState(false);
  const testConnection = useMutation(TestSourceConnectionDocument);
  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const errAt = (path: string) => errorFor(path, error, PATHS);
  const unplaced = error && (!error.field || !ownerOf(error.field, PATHS)) ? error : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setCreating(true);
    try {
      const { createJob } = await client.request(CreateJobDocument, { input: inputOf(form) });
      navigate(href.job(createJob.id));
    } catch (x) {
      setError(asFieldError(x));
    } finally {
      setCreating(false);
    }
  };

  const runTest = async () => {
    setTest(null);
    setError(null);
    let source: SourceConfigInput;
    try {
      source = sourceOf(form);
    } catch (x) {
      return setError(asFieldError(x));
    }
    const r = await testConnection.run({ input: source });
    if (r) setTest(r.testSourceConnection);
  };
  // A connection test's errors name its own input (`input.params.path`): the source's fields here.
  const testError = testConnection.error
    ? { field: testConnection.error.field?.replace(/^input\b/, 'input.source'), message: testConnection.error.message }
    : null;
  const srcErr = (path: string) => errAt(path) ?? errorFor(path, testError, PATHS);

  const types = sourceTypes.data?.sourceTypes ?? [];
  const backends = [...new Set(types.flatMap((t) => t.backends))];

  return (
    <>
      <PageHeader title="Create job" subtitle={<a href={href.jobs()}>← Jobs</a>} />
      <form className="form" onSubmit={submit} noValidate aria-label="Create job">
        {unplaced ? <ErrorNotice error={unplaced.message} /> : null}
        <fieldset className="card">
          <legend>Job</legend>
          <div className="grid">
            <Field label="Name" error={errAt('input.name')}>
              {(p) => <input {...p} value={form.name} onChange={(e) => set({ name: e.target.value })} />}
            </Field>
            <Field label="Tags" hint="Comma-separated" error={errAt('input.tags')}>
              {(p) => <input {...p} value={form.tags} onChange={(e) => set({ tags: e.target.value })} />}
            </Field>
            <Field label="Backend" error={errAt('input.backend')}>
              {(p) => (
                <select {...p} value={form.backend} onChange={(e) => set({ backend: e.target.value as ExecutionBackend })}>
                  {(backends.length ? backends : ['LOCAL']).map((b) => (
                    <option key={b}>{b}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Max attempts" hint="Empty: the gateway's default" error={errAt('input.maxAttempts')}>
              {(p) => (
                <input {...p} type="number" min={1} value={form.maxAttempts} onChange={(e) => set({ maxAttempts: e.target.value })} />
              )}
            </Field>
            <Field label="Description" error={errAt('input.description')} wide>
              {(p) => <input {...p} value={form.description} onChange={(e) => set({ description: e.target.value })} />}
            </Field>
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Source</legend>
          <div className="grid">
            <Field label="Source type" error={srcErr('input.source.type') ?? srcErr('input.source')}>
              {(p) => (
                <select {...p} value={form.sourceType} onChange={(e) => set({ sourceType: e.target.value as SourceType })}>
                  {(types.length ? types.map((t) => t.type) : ['LOCAL']).map((t) => (
                    <option key={t}>{t}</option>
                  ))}
                </select>
              )}
            </Field>
            {form.sourceType === 'LOCAL' ? (
              <Field
                label="Path"
                hint="A file or a glob the gateway can read, e.g. /data/in/orders.csv"
                error={srcErr('input.source.params.path')}
                wide
              >
                {(p) => (
                  <input {...p} value={form.path} onChange={(e) => set({ path: e.target.value })} placeholder="/data/in/orders.csv" />
                )}
              </Field>
            ) : form.sourceType === 'HTTP' ? (
              <Field label="URL" error={srcErr('input.source.params.url')} wide>
                {(p) => <input {...p} value={form.url} onChange={(e) => set({ url: e.target.value })} placeholder="https://…" />}
              </Field>
            ) : (
              <Field label="Parameters (JSON)" hint="Secrets are stored, never shown again" error={srcErr('input.source.params')} wide>
                {(p) => <textarea {...p} rows={4} className="mono" value={form.params} onChange={(e) => set({ params: e.target.value })} />}
              </Field>
            )}
            <Field label="File pattern" hint="Optional glob within the path" error={srcErr('input.source.filePattern')}>
              {(p) => <input {...p} value={form.filePattern} onChange={(e) => set({ filePattern: e.target.value })} />}
            </Field>
          </div>
          <div className="form-row">
            <button type="button" className="btn" onClick={runTest} disabled={testConnection.pending}>
              {testConnection.pending ? 'Testing…' : 'Test connection'}
            </button>
            {test ? (
              <span className={`test-result ${test.ok ? 'ok' : 'bad'}`} role="status">
                {test.ok ? '✓ ' : '✗ '}
                {test.message}
                {test.latencyMs != null ? <span className="muted"> · {test.latencyMs} ms</span> : null}
              </span>
            ) : null}
            {testError && !srcErr(testError.field ?? '') ? <ErrorNotice error={testError.message} /> : null}
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Destination</legend>
          <div className="grid">
            <Field label="Schema" error={errAt('input.destination.schema')}>
              {(p) => <input {...p} value={form.schema} onChange={(e) => set({ schema: e.target.value })} />}
            </Field>
            <Field label="Table" error={errAt('input.destination.table')}>
              {(p) => <input {...p} value={form.table} onChange={(e) => set({ table: e.target.value })} />}
            </Field>
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Processing</legend>
          <div className="grid">
            <Field label="Mode" error={errAt('input.processing.mode')}>
              {(p) => (
                <select {...p} value={form.mode} onChange={(e) => set({ mode: e.target.value as ProcessingMode })}>
                  <option>BATCH</option>
                  <option>STREAMING</option>
                </select>
              )}
            </Field>
            <Field label="Format" error={errAt('input.processing.format')}>
              {(p) => (
                <select {...p} value={form.format} onChange={(e) => set({ format: e.target.value as DataFormat })}>
                  {['AUTO', 'CSV', 'JSON', 'NDJSON', 'PARQUET'].map((x) => (
                    <option key={x}>{x}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Batch size" error={errAt('input.processing.batchSize')}>
              {(p) => <input {...p} type="number" value={form.batchSize} onChange={(e) => set({ batchSize: e.target.value })} />}
            </Field>
            <Field label="Max rows per second" hint="LOCAL only; empty: no limit" error={errAt('input.processing.maxRowsPerSecond')}>
              {(p) => (
                <input {...p} type="number" value={form.maxRowsPerSecond} onChange={(e) => set({ maxRowsPerSecond: e.target.value })} />
              )}
            </Field>
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Compute</legend>
          <ComputeFields value={form.compute} onChange={(compute) => set({ compute })} prefix="input.compute" error={error} paths={PATHS} />
        </fieldset>

        <fieldset className="card">
          <legend>Schedule</legend>
          <Checkbox
            label="Run on a schedule"
            checked={form.scheduled}
            onChange={(scheduled) => set({ scheduled })}
            error={errAt('input.schedule')}
          />
          {form.scheduled ? (
            <div className="grid">
              <Field label="Cron" hint="minute hour day month weekday" error={errAt('input.schedule.cron')}>
                {(p) => <input {...p} className="mono" value={form.cron} onChange={(e) => set({ cron: e.target.value })} />}
              </Field>
              <Field label="Time zone" error={errAt('input.schedule.timezone')}>
                {(p) => <input {...p} value={form.timezone} onChange={(e) => set({ timezone: e.target.value })} />}
              </Field>
            </div>
          ) : null}
        </fieldset>

        <div className="form-actions">
          <a className="btn btn-ghost" href={href.jobs()}>
            Cancel
          </a>
          <button type="submit" className="btn btn-primary" disabled={creating}>
            {creating ? 'Creating…' : 'Create job'}
          </button>
        </div>
      </form>
    </>
  );
}
