import { IngestError } from '../../src/backends/local/ingest/errors';
import { sampleRecords } from '../../src/backends/local/ingest/sample';

describe('sampleRecords', () => {
  it('reads a CSV header and rows the way an ingest does, stopping at the limit', () => {
    const s = sampleRecords('\ufeffid,size,"a, b"\n1,5",x\n\n2,"two\nlines",y\n3,z\n4,w,v\n5,u,t\n', 'CSV', 3);
    expect(s.header).toEqual(['id', 'size', 'a, b']);
    // A quote inside an unquoted field is literal; the short row is bad, not a record.
    expect(s.records).toEqual([
      ['1', '5"', 'x'],
      ['2', 'two\nlines', 'y'],
      ['4', 'w', 'v'],
    ]);
    expect(s.bad).toEqual([{ line: 6, reason: 'expected 3 columns, got 2' }]);
  });

  it('drops the record a truncated prefix cuts off', () => {
    expect(sampleRecords('id,name\n1,alpha\n2,be', 'CSV', 10, { truncated: true }).records).toEqual([['1', 'alpha']]);
    expect(sampleRecords('id,name\n1,alpha\n2,be', 'CSV', 10).records).toEqual([
      ['1', 'alpha'],
      ['2', 'be'],
    ]);
    expect(sampleRecords('{"a":1}\n{"a":2}\n{"a"', 'NDJSON', 10, { truncated: true }).records).toEqual([{ a: 1 }, { a: 2 }]);
    expect(sampleRecords('[{"a":1},{"a":2},{"a":', 'JSON', 10, { truncated: true }).records).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('keeps going past a malformed JSON record, reporting it as bad', () => {
    const nd = sampleRecords('{"id":1}\n{"id": }\n{"id":3,"x":true}\n', 'NDJSON', 10);
    expect(nd.records).toEqual([{ id: 1 }, { id: 3, x: true }]);
    expect(nd.bad).toEqual([{ line: 2, reason: expect.stringMatching(/^invalid JSON/) }]);
    const arr = sampleRecords('[{"id":1}, 7, {"id":3}]', 'JSON', 10);
    expect(arr.records).toEqual([{ id: 1 }, { id: 3 }]);
    expect(arr.bad).toEqual([{ line: 1, reason: 'expected a JSON object, got a number' }]);
  });

  it('throws what an ingest would throw for the same text, as PERMANENT', () => {
    const fails = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(IngestError);
        return (err as IngestError).message;
      }
      throw new Error('did not throw');
    };
    expect(fails(() => sampleRecords('id,"name\n1,a\n', 'CSV', 10))).toBe('CSV header has an unterminated quote (line 1)');
    expect(fails(() => sampleRecords('{"a":1}\n', 'JSON', 10))).toMatch(/not an array of objects/);
    expect(fails(() => sampleRecords('[{"a":1}', 'JSON', 10))).toMatch(/JSON array is not closed/);
  });
});
