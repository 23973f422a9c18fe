/**
 * `testSourceConnection` on LOCAL files: the sample schema is what the LOCAL executor would make of
 * the same file (same parsers, same type inference).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SourceType } from '../../src/domain';
import { testSourceConnection } from '../../src/jobs/connection-test';
import { makeLogger } from '../../src/logger';

let dir: string;
const logger = makeLogger('silent');

async function sample(name: string, content: string) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return testSourceConnection({ type: SourceType.LOCAL, params: { path: file } }, { logger });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobwire-conntest-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('testSourceConnection on LOCAL files', () => {
  it('samples an NDJSON file with a malformed line from its good lines, as an ingest would load them', async () => {
    const r = await sample('events.ndjson', '{"id":1,"at":"2026-01-01T00:00:00Z"}\n{"id": oops}\n{"id":3,"ok":true}\n');
    expect(r).toMatchObject({ ok: true });
    expect(r.sampleSchema).toEqual({
      format: 'NDJSON',
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'at', type: 'TIMESTAMPTZ' },
        { name: 'ok', type: 'BOOLEAN' },
      ],
    });
  });

  it('types CSV columns without the rows an ingest would refuse, and reads literal quotes as an ingest does', async () => {
    const r = await sample('sizes.csv', 'id,size,n\nshort\n1,5",7\n2,6",8\n');
    expect(r.sampleSchema).toEqual({
      format: 'CSV',
      columns: [
        { name: 'id', type: 'BIGINT' },
        { name: 'size', type: 'TEXT' },
        { name: 'n', type: 'BIGINT' },
      ],
    });
  });

  it('says why a file an ingest would refuse gives no columns', async () => {
    const r = await sample('open.csv', 'id,"name\n1,a\n');
    expect(r).toMatchObject({ ok: true, sampleSchema: { format: 'CSV', columns: null } });
    expect(r.message).toContain('CSV header has an unterminated quote (line 1)');
  });
});
