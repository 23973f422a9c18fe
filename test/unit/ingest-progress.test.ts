import { estimateTotalRows, stageCounts, type IngestCounters } from '../../src/backends/local/ingest/progress';

/** Counters of an ingest part way through a 100,000-byte file of 1,000 rows. */
function counters(patch: Partial<IngestCounters> = {}): IngestCounters {
  return {
    rowsRead: 250,
    transformed: 250,
    transformFailed: 0,
    rowsLoaded: 100,
    loadFailed: 0,
    bytesParsed: 25_000,
    totalBytes: 100_000,
    inputDone: false,
    ...patch,
  };
}

describe('total rows estimate', () => {
  it('extrapolates the rows read by the share of bytes parsed, as an estimate', () => {
    expect(estimateTotalRows(counters())).toEqual({ total: 1000, isEstimate: true });
    expect(estimateTotalRows(counters({ rowsRead: 400, bytesParsed: 50_000 }))).toEqual({ total: 800, isEstimate: true });
  });

  it('is exact once every input was read', () => {
    expect(estimateTotalRows(counters({ rowsRead: 987, bytesParsed: 100_000, inputDone: true }))).toEqual({
      total: 987,
      isEstimate: false,
    });
    // Even when the size was unknown (HTTP without Content-Length).
    expect(estimateTotalRows(counters({ rowsRead: 10, totalBytes: null, inputDone: true }))).toEqual({ total: 10, isEstimate: false });
  });

  it('never lets the rows read reach the total while input remains', () => {
    // Later rows shorter than the first ones: the extrapolation undershoots.
    expect(estimateTotalRows(counters({ rowsRead: 900, bytesParsed: 99_000 }))).toEqual({ total: 910, isEstimate: true });
    expect(estimateTotalRows(counters({ rowsRead: 900, bytesParsed: 100_000 }))).toEqual({ total: 901, isEstimate: true });
    // Unknown size, nothing parsed yet, a file that grew while read.
    expect(estimateTotalRows(counters({ rowsRead: 500, totalBytes: null }))).toEqual({ total: 501, isEstimate: true });
    expect(estimateTotalRows(counters({ rowsRead: 0, bytesParsed: 0 }))).toEqual({ total: 1, isEstimate: true });
    expect(estimateTotalRows(counters({ rowsRead: 2000, bytesParsed: 200_000 }))).toEqual({ total: 2001, isEstimate: true });
  });
});

describe('stage counts', () => {
  it('counts each row once per stage: good rows completed, bad rows failed', () => {
    const c = stageCounts(counters({ transformed: 250, transformFailed: 20, rowsLoaded: 200, loadFailed: 5 }));
    expect(c.extract).toEqual({ totalItems: 1000, completedItems: 250, failedItems: 0, totalIsEstimate: true });
    expect(c.transform).toEqual({ totalItems: 1000, completedItems: 230, failedItems: 20, totalIsEstimate: true });
    // The load's total is what remains after the transform's refusals; its share done is rows loaded.
    expect(c.load).toEqual({ totalItems: 980, completedItems: 200, failedItems: 5, totalIsEstimate: true });
  });

  it('keeps every stage short of done while rows remain, with any mix of counters', () => {
    for (let rowsRead = 0; rowsRead <= 1000; rowsRead += 37) {
      for (const bytesParsed of [0, 1000, 50_000, 100_000, 150_000]) {
        for (const totalBytes of [null, 100_000]) {
          const transformFailed = Math.floor(rowsRead / 10);
          const rowsLoaded = Math.max(0, rowsRead - transformFailed - 60);
          const c = stageCounts(counters({ rowsRead, transformed: rowsRead, transformFailed, rowsLoaded, bytesParsed, totalBytes }));
          for (const s of [c.extract, c.transform, c.load]) {
            expect(s.totalIsEstimate).toBe(true);
            expect(s.completedItems + s.failedItems).toBeLessThan(s.totalItems);
          }
        }
      }
    }
  });

  it('reaches done exactly when the last row is loaded', () => {
    const done = stageCounts(
      counters({ rowsRead: 990, transformed: 990, transformFailed: 10, rowsLoaded: 975, loadFailed: 5, inputDone: true }),
    );
    expect(done.load).toEqual({ totalItems: 980, completedItems: 975, failedItems: 5, totalIsEstimate: false });
    const last = stageCounts(
      counters({ rowsRead: 990, transformed: 990, transformFailed: 10, rowsLoaded: 970, loadFailed: 5, inputDone: true }),
    );
    expect(last.load.completedItems + last.load.failedItems).toBeLessThan(last.load.totalItems);
    expect(done.extract).toEqual({ totalItems: 990, completedItems: 990, failedItems: 0, totalIsEstimate: false });
  });
});
