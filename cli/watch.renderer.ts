/**
 * What `jobwire watch` shows: the run's status, a progress bar per stage and the log tail. On a
 * terminal one frame is redrawn in place (at most every {@link REDRAW_MS}); elsewhere (a pipe, a
 * file, CI) it prints plain lines: a status line when the status changes, a stage line when a stage
 * changes status or passes a tenth, and every log line.
 */
import type { LogLineFieldsFragment, RunFieldsFragment, StageFieldsFragment } from '../client';
import type { CliIo } from './command';
import { count, duration, fit, logLine, noPaint, percent, stageLine, statusTone, type Paint } from './format';

/** The least time between two redraws of the terminal frame. */
export const REDRAW_MS = 100;
/** Log lines the terminal frame shows at most. */
export const TAIL_LINES = 10;

/** The run as the watch knows it: the latest run message, the stages merged from both streams, the log tail. */
export class WatchModel {
  run: RunFieldsFragment | null = null;
  readonly stages = new Map<string, StageFieldsFragment>();
  readonly tail: LogLineFieldsFragment[] = [];

  constructor(private readonly tailSize = TAIL_LINES) {}

  /** A run message (its stages too). */
  setRun(run: RunFieldsFragment): void {
    if (this.run && run.attempt > this.run.attempt) this.stages.clear(); // a new attempt starts its stages again
    this.run = run;
    for (const s of run.stages) this.setStage(s);
  }

  /** A stage message; an older message of a stage (the streams are not ordered with each other) changes nothing. Returns whether it changed. */
  setStage(stage: StageFieldsFragment): boolean {
    const known = this.stages.get(stage.name);
    if (known && Date.parse(known.updatedAt) > Date.parse(stage.updatedAt)) return false;
    this.stages.set(stage.name, stage);
    return true;
  }

  addLines(lines: LogLineFieldsFragment[]): void {
    this.tail.push(...lines);
    this.tail.splice(0, Math.max(0, this.tail.length - this.tailSize));
  }
}

/** `orders #3  RUNNING  attempt 1  42 %  12.3s  5,000 records  1,234 rows/s`, with the error or the stall when there is one. */
export function runHeadline(run: RunFieldsFragment, now: number, paint: Paint = noPaint): string {
  const parts = [
    `${run.job.name} #${run.number}`,
    paint(run.status, statusTone(run.status)),
    `attempt ${run.attempt}`,
    percent(run.progress).trim(),
  ];
  if (run.startedAt) parts.push(duration((run.finishedAt ? Date.parse(run.finishedAt) : now) - Date.parse(run.startedAt)));
  if (run.metrics) {
    parts.push(`${count(run.metrics.recordsProcessed)} records`);
    if (run.metrics.recordsFailed > 0) parts.push(paint(`${count(run.metrics.recordsFailed)} failed`, 'bad'));
    if (run.status === 'RUNNING') parts.push(`${count(run.metrics.throughputRps)} rows/s`);
  }
  let line = parts.join('  ');
  if (run.stalledSince) line += paint(`  stalled since ${run.stalledSince}`, 'warn');
  if (run.status === 'FAILED' && run.error) {
    const retry = run.error.kind === 'TRANSIENT' && !run.deadLettered ? ' (a retry is due)' : run.deadLettered ? ' (dead-lettered)' : '';
    line += `: ${paint(`${run.error.kind}: ${run.error.message}`, 'bad')}${retry}`;
  }
  return line;
}

/** The terminal frame: the headline, a line per stage, then the log tail, each cut to the width; at most `rows - 1` lines. */
export function watchFrame(model: WatchModel, o: { columns: number; rows: number; now: number; paint: Paint }): string[] {
  if (!model.run) return ['waiting for the run…'];
  const stages = [...model.stages.values()];
  const nameWidth = Math.max(0, ...stages.map((s) => s.name.length));
  const barWidth = Math.max(10, Math.min(30, o.columns - nameWidth - 45));
  const lines = [runHeadline(model.run, o.now, o.paint), ...stages.map((s) => `  ${stageLine(s, nameWidth, o.paint, barWidth)}`)];
  const room = Math.max(0, o.rows - 1 - lines.length - 1);
  const tail = model.tail.slice(-room);
  if (tail.length) lines.push('', ...tail.map((l) => logLine(l, o.paint, true)));
  return lines.map((l) => fit(l, o.columns - 1));
}

/** Receives what the watch learns, and shows it. */
export interface WatchRenderer {
  run(run: RunFieldsFragment): void;
  stage(stage: StageFieldsFragment): void;
  lines(lines: LogLineFieldsFragment[]): void;
  /** The run has ended: show its last state (and leave the terminal as it was). */
  end(run: RunFieldsFragment): void;
  /** Stops redrawing (Ctrl-C, an error): restores the cursor. */
  dispose(): void;
}

/** The watch display for stdout: redrawn in place on a terminal, plain lines otherwise. */
export function createWatchRenderer(io: CliIo, now: () => number = Date.now): WatchRenderer {
  return io.isTTY ? terminalRenderer(io, now) : plainRenderer(io, now);
}

function terminalRenderer(io: CliIo, now: () => number): WatchRenderer {
  const model = new WatchModel();
  let height = 0;
  let timer: NodeJS.Timeout | null = null;
  let last = 0;
  const draw = () => {
    timer = null;
    last = now();
    const frame = watchFrame(model, { columns: io.columns, rows: io.rows, now: last, paint: io.paint });
    io.write(`${height ? `\x1b[${height}A\r\x1b[0J` : ''}${frame.join('\n')}\n`);
    height = frame.length;
  };
  const schedule = () => {
    if (!timer) timer = setTimeout(draw, Math.max(0, REDRAW_MS - (now() - last)));
  };
  // Elapsed time moves even when nothing else does.
  const ticker = setInterval(schedule, 1000);
  io.write('\x1b[?25l'); // no cursor blinking over the bars
  let stopped = false;
  const stop = () => {
    clearInterval(ticker);
    if (timer) clearTimeout(timer);
    timer = null;
    if (!stopped) io.write('\x1b[?25h');
    stopped = true;
  };
  return {
    run: (run) => (model.setRun(run), schedule()),
    stage: (stage) => model.setStage(stage) && schedule(),
    lines: (lines) => (model.addLines(lines), schedule()),
    end(run) {
      model.setRun(run);
      draw();
      stop();
    },
    dispose: stop,
  };
}

function plainRenderer(io: CliIo, now: () => number): WatchRenderer {
  const model = new WatchModel();
  let lastHead = '';
  let headLast = false; // the last line printed is the status line
  const printedStage = new Map<string, string>();
  const nameWidth = () => Math.max(0, ...[...model.stages.keys()].map((n) => n.length));
  const printStage = (s: StageFieldsFragment, always = false) => {
    // A line when the stage changes status or passes a tenth: enough to follow, not one per batch.
    const key = `${s.status}:${Math.floor(s.progress * 10)}`;
    if (!always && printedStage.get(s.name) === key) return;
    printedStage.set(s.name, key);
    io.out(`stage ${stageLine(s, nameWidth(), noPaint)}`);
    headLast = false;
  };
  const printHead = (run: RunFieldsFragment, always = false) => {
    const key = `${run.status}:${run.attempt}:${run.stalledSince ?? ''}:${run.error?.message ?? ''}`;
    if (!always && key === lastHead) return;
    lastHead = key;
    io.out(`run ${runHeadline(run, now(), noPaint)}`);
    headLast = true;
  };
  return {
    run(run) {
      const attempt = model.run?.attempt;
      model.setRun(run);
      if (attempt !== undefined && run.attempt > attempt) printedStage.clear();
      printHead(run);
      for (const s of model.stages.values()) printStage(s);
    },
    stage(stage) {
      if (model.setStage(stage)) printStage(stage);
    },
    lines(lines) {
      for (const l of lines) io.out(`log ${logLine(l, noPaint)}`);
      if (lines.length) headLast = false;
    },
    end(run) {
      model.setRun(run);
      for (const s of model.stages.values()) printStage(s);
      // The last line says how the run ended.
      printHead(run, !headLast);
    },
    dispose() {},
  };
}
