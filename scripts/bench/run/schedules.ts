/**
 * `bun run bench schedules`: recurring schedules at ≈1,667 occurrences/s (schedules-case.ts
 * measures and renders): tickwheel with 10,000 schedules every 6 s and with 100,000 every 60 s
 * (node RSS side by side: flat in the number of schedules?), BullMQ job schedulers with 100,000
 * every 60 s. Runs only when named; its table goes to its own block of BENCHMARKS.md
 * (bench:schedules markers) at scale 1 with both systems, or with --write.
 *
 * Flags: --scale F multiplies the schedule counts AND the periods by F, so the occurrence rate
 * stays ≈1,667/s and a trial run is short (--scale 0.02: 200 every 120 ms and 2,000 every 1.2 s);
 * --schedules N is --scale N/100,000; --schedules-seconds S is the measured window (default 30 s,
 * scaled like the periods, at least 5 s); --schedules-concurrency N is both systems' worker
 * concurrency (default 1,000). About 5-6 minutes at scale 1, mostly the settle period
 * (one full round after creation) and BullMQ's creation.
 */
import { writeMarkedBlock } from "../marked-block.ts";
import { renderSchedules, schedulesCase, type SchedulesResult, type SchedulesRun } from "../schedules-case.ts";
import { machineInfo } from "../process-stats.ts";
import type { BenchCase } from "../suite.ts";

const FULL_COUNT = 100_000;
const FULL_PERIOD_MS = 60_000;
/** The tickwheel run with a tenth of the schedules, each ten times as often: the same rate. */
const SMALL_FRACTION = 10;
/** tickwheel's shortest `every` (schedule-input.ts EVERY_FLOOR_MS). */
const EVERY_FLOOR_MS = 100;
const DEFAULT_WINDOW_S = 30;
/** Both systems' worker concurrency (--schedules-concurrency): equal settings, see schedules-case.ts. */
const DEFAULT_CONCURRENCY = 1_000;

export const schedulesBench: BenchCase = {
  onlyWhenNamed: true,
  async run(ctx) {
    const scale = ctx.flags.schedules !== undefined ? Number(ctx.flags.schedules) / FULL_COUNT : ctx.scale;
    if (!Number.isFinite(scale) || scale <= 0 || scale > 10) throw new Error(`schedules: expected --scale or --schedules to give a scale in (0, 10], got ${scale}`);
    const count = Math.round(FULL_COUNT * scale);
    const periodMs = Math.round(FULL_PERIOD_MS * scale);
    const small: SchedulesRun = { system: "tickwheel", count: Math.round(count / SMALL_FRACTION), periodMs: Math.max(EVERY_FLOOR_MS, Math.round(periodMs / SMALL_FRACTION)) };
    const seconds = Number(ctx.flags["schedules-seconds"] ?? Math.max(5, Math.round(DEFAULT_WINDOW_S * Math.min(1, scale * 10))));
    const shards = Number(process.env.BENCH_SHARDS ?? 16);
    const concurrency = Number(ctx.flags["schedules-concurrency"] ?? DEFAULT_CONCURRENCY);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`schedules: --schedules-concurrency must be a positive integer, got ${ctx.flags["schedules-concurrency"]}`);
    const runs: SchedulesRun[] = [];
    if (ctx.systemNames.includes("tickwheel")) runs.push(small, { system: "tickwheel", count, periodMs });
    if (ctx.systemNames.includes("bullmq")) runs.push({ system: "bullmq", count, periodMs });
    const found: SchedulesResult[] = [];
    for (const run of runs) {
      const result = await schedulesCase(ctx.systems[run.system], run, seconds, shards, concurrency);
      found.push(result);
      const l = result.lateness;
      ctx.log(
        `schedules ${run.system} ${run.count} every ${run.periodMs} ms: created in ${result.createSeconds.toFixed(1)} s; ${result.started} of ~${result.expected} occurrences started; lateness p50 ${l.p50} p99 ${l.p99} max ${l.max} early ${l.early}; ${Math.round(result.bytesPerSchedule)} B/schedule; RSS ${result.rssIdleMB.toFixed(0)} → ${result.rssLoadedMB.toFixed(0)} MB`,
      );
    }
    const m = machineInfo();
    const table = renderSchedules(found, ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" "), `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Bun ${m.bun}, redis-server ${m.redis}, BullMQ ${m.bullmq}, tickwheel ${m.tickwheel}`, concurrency);
    if (ctx.flags.write || (scale === 1 && ctx.systemNames.length === 2 && !ctx.flags["no-write"])) {
      const path = writeMarkedBlock("schedules", table, "## Recurring schedules");
      ctx.log(`wrote the schedules table to ${path}`);
    }
    return { rows: [], sections: [`### Recurring schedules\n\n${table}`], runLines: found.map((r) => `schedules ${r.system} ${r.count}: ${JSON.stringify(r)}`), runsNote: `schedules ${found.length}` };
  },
};
