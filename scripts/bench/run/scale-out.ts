/**
 * `bun run bench scale-out` (issue 13): how tickwheel's figures and per-task
 * costs move with 1 vs 2 nodes, 8 vs 32 shards, on one redis-server and on a
 * 3-master Redis Cluster (scale-case.ts measures one run, scale-report.ts
 * renders). tickwheel alone. Runs only when named; its page goes to its own
 * block of BENCHMARKS.md (bench:scale-out markers) after a run at scale 1 of
 * every configuration, or with --write.
 *
 * Flags of every case: --runs N (default 2; runs go round every configuration
 * in turn, so a neighbour's noise spreads over all of them), --scale F (burst
 * count and steady rate × F), --steady-seconds S (default 20).
 * Environment, for a partial sitting: BENCH_SCALE_LAYOUTS=redis,cluster,
 * BENCH_SCALE_SHARDS=8,32, BENCH_SCALE_NODES=1,2, BENCH_SCALE_BURST=50000,
 * BENCH_SCALE_RATE=5000, BENCH_SCALE_CONCURRENCY=5000 (each node's pool).
 */
import { writeMarkedBlock } from "../marked-block.ts";
import { scaleCase, type ScaleConfig, type ScaleResult } from "../scale-case.ts";
import { configLabel, renderScale, type ConfigResults } from "../scale-report.ts";
import type { Layout } from "../scale-topology.ts";
import { machineInfo } from "../process-stats.ts";
import { runLine, type BenchCase } from "../suite.ts";

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(",").map((item) => item.trim()).filter(Boolean);
const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number, got "${process.env[name]}"`);
  return value;
};

/**
 * Each node's pool: large enough that the pool is not what bounds a burst (the bench's best burst
 * setting, BENCHMARKS.md), so the figures show nodes, shards and Redis.
 */
const DEFAULT_CONCURRENCY = 5000;

export const scaleOutBench: BenchCase = {
  onlyWhenNamed: true,
  async run(ctx) {
    const layouts = list("BENCH_SCALE_LAYOUTS", "redis,cluster") as Layout[];
    for (const layout of layouts) if (layout !== "redis" && layout !== "cluster") throw new Error(`BENCH_SCALE_LAYOUTS: unknown layout "${layout}": expected redis, cluster`);
    const shardCounts = list("BENCH_SCALE_SHARDS", "8,32").map(Number);
    const nodeCounts = list("BENCH_SCALE_NODES", "1,2").map(Number);
    for (const n of [...shardCounts, ...nodeCounts]) if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_SCALE_SHARDS / BENCH_SCALE_NODES: expected positive integers, got ${n}`);
    const burstCount = Math.max(1, Math.round(positive("BENCH_SCALE_BURST", 50_000) * ctx.scale));
    const rate = Math.max(1, Math.round(positive("BENCH_SCALE_RATE", 5_000) * ctx.scale));
    const concurrency = positive("BENCH_SCALE_CONCURRENCY", DEFAULT_CONCURRENCY);
    const runs = ctx.runs(2);
    const configs: ScaleConfig[] = layouts.flatMap((layout) => shardCounts.flatMap((shards) => nodeCounts.map((nodes) => ({ layout, shards, nodes }))));
    const entries: ConfigResults[] = configs.map((config) => ({ config, runs: [] }));
    const runLines: string[] = [];
    for (let run = 1; run <= runs; run++) {
      for (const entry of entries) {
        const result: ScaleResult = await scaleCase(ctx.systems.tickwheel, entry.config, { burstCount, rate, seconds: ctx.steadySeconds, concurrency });
        entry.runs.push(result);
        const l = result.steady.lateness;
        ctx.log(
          `scale-out ${configLabel(entry.config)}, run ${run}: burst ${Math.round(result.burst.tasksPerSecond)} tasks/s (first ${result.burst.firstStartMs} ms, last completion ${result.burst.lastCompletionMs} ms, per node ${result.burst.perNode.join("/")}${result.burst.dropped ? `, ${result.burst.dropped} dropped unstarted` : ""}); ` +
            `steady ${rate}/s p50 ${l.p50} p99 ${l.p99} max ${l.max} early ${l.early}${result.steady.notStarted ? ` (${result.steady.notStarted} not started)` : ""}${result.steady.dropped ? `, ${result.steady.dropped} dropped unstarted` : ""}; ` +
            `µs/task fire: nodes ${result.burst.nodeUs.toFixed(1)}, redis ${result.burst.redisUs.map((v) => v.toFixed(1)).join("+")}; whole life: nodes ${result.steady.nodeUs.toFixed(1)}, redis ${result.steady.redisUs.map((v) => v.toFixed(1)).join("+")}`,
        );
        runLines.push(runLine(`scale-out ${configLabel(entry.config)} #${run}`, result));
      }
    }
    // The capacity estimate starts from the most scaled-out shape measured: a cluster, most shards, most nodes.
    const reference = [...entries].sort((a, b) => score(b.config) - score(a.config))[0];
    const m = machineInfo();
    const processes = Math.max(...nodeCounts) + (layouts.includes("cluster") ? 3 : 1) + 1;
    const command = ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" ");
    const header =
      `Command: \`${command}\` (${runs} run${runs > 1 ? "s" : ""} per configuration, medians), on ${new Date().toISOString().slice(0, 10)} at ${m.tickwheel}; ` +
      `${m.cpus} CPUs (${m.cpuModel}), Bun ${m.bun}, redis-server ${m.redis}; each node's pool ${concurrency.toLocaleString("en-US")}, other node settings default.\n\n` +
      `**Every process of a run shares this machine's ${m.cpus} cores**: up to ${processes} busy processes (nodes, masters, the producer) on ${m.cpus} cores, so a second node or master adds contention, ` +
      `not capacity, here, and rates and tails with 2 nodes or 3 masters are lower bounds of what separate machines give. The per-task CPU costs are what this page is for: ` +
      `they add up the same wherever the processes run, and docs/scaling.md turns them into machines and masters for a target rate.`;
    const page = renderScale(entries, reference, header);
    const full = ctx.scale === 1 && !process.env.BENCH_SCALE_LAYOUTS && !process.env.BENCH_SCALE_SHARDS && !process.env.BENCH_SCALE_NODES;
    if (ctx.flags.write || (full && !ctx.flags["no-write"])) {
      writeBlock(page);
      ctx.log("wrote the scale-out page to BENCHMARKS.md");
    }
    return { rows: [], sections: [`### Scale-out (issue 13)\n\n${page}`], runLines, runsNote: `scale-out ${runs}` };
  },
};

function score(config: ScaleConfig): number {
  return (config.layout === "cluster" ? 1_000_000 : 0) + config.shards * 100 + config.nodes;
}

function writeBlock(page: string): void {
  writeMarkedBlock("scale-out", page, "## Scale-out (issue 13)");
}
