/**
 * `bun run bench schedules`: recurring schedules, tickwheel against BullMQ job
 * schedulers (schedules-case.ts measures and renders). Runs only when named;
 * its table goes to its own block of BENCHMARKS.md (bench:schedules markers)
 * with 100,000 schedules and both systems, or with --write. Flags:
 * --schedules N (default 100,000, each every minute), --schedules-seconds S
 * (measured window after the first round, default 45).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSchedules, schedulesCase, type SchedulesResult } from "../schedules-case.ts";
import { machineInfo } from "../process-stats.ts";
import type { BenchCase } from "../suite.ts";

export const schedulesBench: BenchCase = {
  onlyWhenNamed: true,
  async run(ctx) {
    const count = Number(ctx.flags.schedules ?? 100_000);
    const seconds = Number(ctx.flags["schedules-seconds"] ?? 45);
    const shards = Number(process.env.BENCH_SHARDS ?? 16);
    const found: SchedulesResult[] = [];
    for (const systemName of ctx.systemNames) {
      const result = await schedulesCase(ctx.systems[systemName], count, seconds, shards);
      found.push(result);
      const l = result.lateness;
      ctx.log(`schedules ${systemName}: ${count} created in ${result.createSeconds.toFixed(1)} s; ${result.started} of ~${result.expected} occurrences started; lateness p50 ${l.p50} p99 ${l.p99} max ${l.max} early ${l.early}; ${Math.round(result.bytesPerSchedule)} B/schedule; RSS ${result.rssIdleMB.toFixed(0)} → ${result.rssLoadedMB.toFixed(0)} MB`);
    }
    const m = machineInfo();
    const table = renderSchedules(found, ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" "), `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Bun ${m.bun}, redis-server ${m.redis}, BullMQ ${m.bullmq}, tickwheel ${m.tickwheel}; machine shared with other work`);
    if (ctx.flags.write || (count === 100_000 && ctx.systemNames.length === 2 && !ctx.flags["no-write"])) {
      const path = join(import.meta.dir, "..", "..", "..", "BENCHMARKS.md");
      const begin = "<!-- bench:schedules:begin -->";
      const end = "<!-- bench:schedules:end -->";
      const block = `${begin}\n${table}\n${end}`;
      const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
      const from = current.indexOf(begin);
      const to = current.indexOf(end);
      const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current}\n## Recurring schedules\n\n${block}\n`;
      writeFileSync(path, next);
      ctx.log(`wrote the schedules table to ${path}`);
    }
    return { rows: [], sections: [`### Recurring schedules\n\n${table}`], runLines: found.map((r) => `schedules ${r.system}: ${JSON.stringify(r)}`), runsNote: "schedules 1" };
  },
};
