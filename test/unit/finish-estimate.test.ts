import { RunStatus, StageStatus } from '../../src/domain';
import { MAX_PACE_FACTOR, estimateFinishAt, paceFactor, type FinishEstimateInput } from '../../src/runs/finish-estimate';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

/** A stage that started at t=0 and, by `updatedS`, had done `done` of `total` items. */
function stage(total: number, done: number, updatedS: number, status = StageStatus.RUNNING) {
  return { status, totalItems: total, completedItems: done, failedItems: 0, startedAt: at(0), updatedAt: at(updatedS) };
}

function run(over: Partial<FinishEstimateInput> = {}): FinishEstimateInput {
  return { status: RunStatus.RUNNING, startedAt: at(0), stages: [stage(1000, 250, 10)], metrics: null, ...over };
}

describe('estimated finish time', () => {
  it('extrapolates the remaining items at the pace the stage has kept so far', () => {
    // 250 items in 10 s: 25/s; 750 left → 30 s after the last update.
    expect(estimateFinishAt(run(), 'slowest')).toBe(T0 + 40_000);
    expect(estimateFinishAt(run(), 'mean')).toBe(T0 + 40_000);
  });

  it('counts failed items as done', () => {
    const s = { ...stage(1000, 200, 10), failedItems: 50 };
    expect(estimateFinishAt(run({ stages: [s] }), 'slowest')).toBe(T0 + 40_000);
  });

  it('lets pipeline stages finish with the slowest one, and sequential stages add up', () => {
    const stages = [stage(100, 100, 5, StageStatus.COMPLETED), stage(1000, 500, 10), stage(1000, 250, 10)];
    // Open stages: 500 left at 50/s = 10 s, 750 left at 25/s = 30 s.
    expect(estimateFinishAt(run({ stages }), 'slowest')).toBe(T0 + 40_000);
    expect(estimateFinishAt(run({ stages }), 'mean')).toBe(T0 + 10_000 + 10_000 + 30_000);
  });

  it('goes faster or slower with the latest throughput against the average, within bounds', () => {
    // 1000 records in 10 s is 100/s on average; now 200/s: twice the pace, half the time left.
    const fast = run({ metrics: { timestamp: at(10), recordsProcessed: 1000, throughputRps: 200 } });
    expect(paceFactor(fast)).toBe(2);
    expect(estimateFinishAt(fast, 'slowest')).toBe(T0 + 25_000);
    const slow = run({ metrics: { timestamp: at(10), recordsProcessed: 1000, throughputRps: 50 } });
    expect(estimateFinishAt(slow, 'slowest')).toBe(T0 + 70_000);
    const stopped = run({ metrics: { timestamp: at(10), recordsProcessed: 1000, throughputRps: 0 } });
    expect(paceFactor(stopped)).toBe(1 / MAX_PACE_FACTOR);
    const burst = run({ metrics: { timestamp: at(10), recordsProcessed: 1000, throughputRps: 1e9 } });
    expect(paceFactor(burst)).toBe(MAX_PACE_FACTOR);
  });

  it('ignores a sample that says nothing about pace', () => {
    expect(paceFactor(run({ metrics: { timestamp: at(10), recordsProcessed: 0, throughputRps: 0 } }))).toBe(1);
    expect(paceFactor(run({ metrics: { timestamp: at(0), recordsProcessed: 10, throughputRps: 5 } }))).toBe(1);
    expect(paceFactor(run({ startedAt: null, metrics: { timestamp: at(10), recordsProcessed: 10, throughputRps: 5 } }))).toBe(1);
  });

  it('is unknown unless the run is RUNNING', () => {
    for (const status of [RunStatus.PENDING, RunStatus.QUEUED, RunStatus.CANCELLING, RunStatus.SUCCEEDED, RunStatus.FAILED]) {
      expect(estimateFinishAt(run({ status }), 'slowest')).toBeNull();
    }
  });

  it('is unknown without stages, without a total, or before a stage moved', () => {
    expect(estimateFinishAt(run({ stages: [] }), 'slowest')).toBeNull();
    expect(estimateFinishAt(run({ stages: [stage(0, 0, 10)] }), 'slowest')).toBeNull();
    expect(estimateFinishAt(run({ stages: [stage(1000, 0, 10)] }), 'slowest')).toBeNull();
    expect(estimateFinishAt(run({ stages: [stage(1000, 10, 0)] }), 'slowest')).toBeNull();
    expect(estimateFinishAt(run({ stages: [{ ...stage(1000, 10, 10), startedAt: null }] }), 'slowest')).toBeNull();
    // One open stage without a total makes the whole estimate unknown.
    expect(estimateFinishAt(run({ stages: [stage(1000, 500, 10), stage(0, 0, 10, StageStatus.PENDING)] }), 'slowest')).toBeNull();
  });

  it('is unknown once every stage is done but the run has not ended yet', () => {
    expect(estimateFinishAt(run({ stages: [stage(100, 100, 5, StageStatus.COMPLETED)] }), 'slowest')).toBeNull();
  });

  it('says the last update when nothing remains of a stage still RUNNING', () => {
    expect(estimateFinishAt(run({ stages: [stage(100, 100, 5)] }), 'slowest')).toBe(T0 + 5_000);
  });
});
