/**
 * What the benchmark's worker processes (tickwheel node, BullMQ worker) and the
 * orchestrator say to each other over Bun's IPC channel, and the lateness log
 * both workers keep. Shared so both sides of the comparison are measured by
 * the same code.
 */

/** Name of the no-op task (tickwheel) and of the queue (BullMQ). */
export const BENCH_TASK = "bench.noop";

export interface LatenessSummary {
  count: number;
  /** Started before their due time (lateness < 0). */
  early: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

export interface RunnerReport {
  type: "report";
  requestId: number;
  started: number;
  finished: number;
  lateness: LatenessSummary;
  rssBytes: number;
  heapBytes: number;
  /** Date.now() when `finished` reached the expected count, null until then. */
  allFinishedAt: number | null;
  /** Every lateness sample kept (ms), when asked: several runners' samples merge into exact percentiles. */
  samples?: number[];
  /**
   * tickwheel: claimed tasks the node dropped unstarted (its lease in doubt, or a wait near its deadline); the reaper
   * returns them after their visibility deadline (30 s by default), so they explain such a tail.
   */
  dropped?: number;
}

export type ToRunner =
  | { type: "expect"; finished: number }
  /** Forget everything counted so far (after a warm-up): counters and samples start from zero. */
  | { type: "reset" }
  /**
   * missingFloorMs: count every expected task that has not started as a sample of this value (a
   * lower bound on its lateness), so the percentiles are over all expected tasks.
   */
  | { type: "report"; requestId: number; gc: boolean; lateness: boolean; missingFloorMs?: number; samples?: boolean }
  | { type: "exit" };

export type FromRunner = { type: "ready" } | RunnerReport;

const EMPTY_SUMMARY: LatenessSummary = { count: 0, early: 0, min: null, p50: null, p90: null, p99: null, p999: null, max: null };

/**
 * Lateness samples (start − due, ms) in a preallocated array: the handler's
 * whole job is one store into it, so the measurement adds no allocation and
 * no GC pressure to the process it measures. Percentiles are exact
 * (nearest rank over the sorted samples).
 */
export class LatenessLog {
  private readonly samples: Int32Array;
  private length = 0;
  private early = 0;

  constructor(capacity: number) {
    this.samples = new Int32Array(Math.max(1, capacity));
  }

  clear(): void {
    this.length = 0;
    this.early = 0;
  }

  record(latenessMs: number): void {
    if (latenessMs < 0) this.early++;
    if (this.length < this.samples.length) this.samples[this.length++] = latenessMs;
  }

  get count(): number {
    return this.length;
  }

  /** The samples kept, in arrival order (a copy). */
  values(): number[] {
    return Array.from(this.samples.subarray(0, this.length));
  }

  /** Exact percentiles; `missing` samples of value `floorMs` are counted as the largest ones. */
  summary(missing = 0, floorMs = 0): LatenessSummary {
    const sorted = this.samples.slice(0, this.length).sort();
    const total = sorted.length + missing;
    const at = (index: number) => (index < sorted.length ? sorted[index]! : Math.max(floorMs, sorted[sorted.length - 1] ?? floorMs));
    const rank = (p: number) => (total === 0 ? null : at(Math.max(0, Math.ceil((p / 100) * total) - 1)));
    return {
      count: total,
      early: this.early,
      min: total ? at(0) : null,
      p50: rank(50),
      p90: rank(90),
      p99: rank(99),
      p999: rank(99.9),
      max: total ? at(total - 1) : null,
    };
  }
}

/**
 * The runner's side of the protocol: answers report requests, announces when
 * the expected number of tasks finished, exits on request.
 */
export function serveRunner(counters: {
  started: () => number;
  finished: () => number;
  lateness: LatenessLog;
  stop: () => Promise<void>;
  dropped?: () => number;
}): { checkFinished: () => void } {
  // Counts since the last reset.
  let startedBase = 0;
  let finishedBase = 0;
  let droppedBase = 0;
  const state = {
    ...counters,
    started: () => counters.started() - startedBase,
    finished: () => counters.finished() - finishedBase,
  };
  let expected = Infinity;
  let allFinishedAt: number | null = null;
  let poll: ReturnType<typeof setInterval> | null = null;
  const checkFinished = () => {
    if (allFinishedAt === null && state.finished() >= expected) {
      allFinishedAt = Date.now();
      if (poll) clearInterval(poll);
      poll = null;
    }
  };
  // Completion is found by polling, which keeps the measured hot path free of checks: every 10 ms
  // until all tasks started, then every 1 ms (the resolution of "last completion").
  const watch = () => {
    if (poll) clearInterval(poll);
    poll = setInterval(() => {
      if (state.started() < expected) return;
      checkFinished();
      if (poll && allFinishedAt === null) {
        clearInterval(poll);
        poll = setInterval(checkFinished, 1);
      }
    }, 10);
  };
  process.on("message", (message: ToRunner) => {
    if (message.type === "reset") {
      startedBase = counters.started();
      finishedBase = counters.finished();
      droppedBase = counters.dropped?.() ?? 0;
      counters.lateness.clear();
      expected = Infinity;
      allFinishedAt = null;
    } else if (message.type === "expect") {
      expected = message.finished;
      allFinishedAt = null;
      watch();
    } else if (message.type === "report") {
      if (message.gc) Bun.gc(true);
      const memory = process.memoryUsage();
      const report: RunnerReport = {
        type: "report",
        requestId: message.requestId,
        started: state.started(),
        finished: state.finished(),
        // Sorting every sample is only done when asked: polling reports must not load the runner.
        lateness: !message.lateness
          ? EMPTY_SUMMARY
          : message.missingFloorMs === undefined || !Number.isFinite(expected)
            ? state.lateness.summary()
            : state.lateness.summary(Math.max(0, expected - state.lateness.count), message.missingFloorMs),
        rssBytes: memory.rss,
        heapBytes: memory.heapUsed,
        allFinishedAt,
        ...(message.samples ? { samples: state.lateness.values() } : {}),
        ...(counters.dropped ? { dropped: counters.dropped() - droppedBase } : {}),
      };
      process.send!(report);
    } else if (message.type === "exit") {
      if (poll) clearInterval(poll);
      void state.stop().finally(() => process.exit(0));
    }
  });
  process.send!({ type: "ready" } satisfies FromRunner);
  return { checkFinished };
}
