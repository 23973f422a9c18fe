import os from 'node:os';
import type { IngestStats } from '../../src/backends/local/ingest';
import type { MetricsPayload } from '../../src/runs/run-event';

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Turns an ingest's live counters into `run.metrics` samples: throughput over the time since the
 * previous sample, and this process's CPU and memory use. CPU is the share of the whole machine
 * (all cores) used by the gateway process, 0–100; memory is resident set size over total memory, %.
 * Both are per process: with several LOCAL runs at once, each reports the same process figures.
 */
export class MetricsSampler {
  private at = Date.now();
  private records = 0;
  private cpu = process.cpuUsage();
  private readonly cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);

  sample(stats: Readonly<IngestStats>): MetricsPayload {
    const now = Date.now();
    const elapsedMs = Math.max(1, now - this.at);
    const cpu = process.cpuUsage(this.cpu);
    const throughput = ((stats.rowsLoaded - this.records) * 1000) / elapsedMs;
    this.at = now;
    this.records = stats.rowsLoaded;
    this.cpu = process.cpuUsage();
    return {
      recordsProcessed: stats.rowsLoaded,
      recordsFailed: stats.rowsFailed,
      throughputRps: round1(Math.max(0, throughput)),
      bytesProcessed: stats.bytesRead,
      activeWorkers: 1,
      cpuUtilization: round1(Math.min(100, ((cpu.user + cpu.system) / 1000 / (elapsedMs * this.cores)) * 100)),
      memoryUtilization: round1((process.memoryUsage.rss() / os.totalmem()) * 100),
    };
  }
}
