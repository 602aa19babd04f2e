/**
 * The scale-out case's page (run/scale-out.ts runs it, scale-case.ts
 * measures): medians over runs per configuration in two tables (what it did;
 * what each task cost in CPU, per process and per Redis master), then the
 * capacity those per-task costs give on paper (docs/scaling.md has the
 * reasoning): node processes, masters and producer cores for a target rate.
 */
import { median } from "./suite.ts";
import type { ScaleConfig, ScaleResult } from "./scale-case.ts";

/**
 * Target busy share of a core in the capacity estimate. A process held near 100 % of its core
 * queues its own timers behind its work, and lateness grows long before throughput stops; 70 %
 * leaves room for bursts, GC and a neighbour.
 */
export const CAPACITY_UTILISATION = 0.7;
/** Rates the capacity table is worked out for (tasks per second, scheduled and fired). */
const TARGET_RATES = [10_000, 50_000, 100_000, 250_000, 1_000_000];

export const layoutLabel = (config: ScaleConfig) => (config.layout === "redis" ? "one redis-server" : "3-master cluster");
export const configLabel = (config: ScaleConfig) => `${layoutLabel(config)}, ${config.shards} shards, ${config.nodes} node${config.nodes > 1 ? "s" : ""}`;

const med = (values: number[]) => median(values);
/** Element-wise median of equal-length arrays (per master). */
const medEach = (lists: number[][]) => (lists[0] ?? []).map((_, i) => median(lists.map((list) => list[i] ?? NaN)));
const us = (n: number) => (Number.isFinite(n) ? (n >= 100 ? String(Math.round(n)) : n.toFixed(1)) : "–");
const whole = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
/** Per-master figures: "a + b + c = total" on a cluster, one figure on one server. */
const perMaster = (values: number[], format = us) => (values.length > 1 ? `${values.map(format).join(" + ")} = ${format(sum(values))}` : format(values[0] ?? NaN));

export interface ConfigResults {
  config: ScaleConfig;
  runs: ScaleResult[];
}

/** Per-task costs a capacity estimate starts from (medians of one configuration), µs. */
export interface PerTaskCosts {
  nodeUs: number;
  /** All masters together. */
  redisUs: number;
  /** Hottest master's share of Redis' CPU × masters: 1 when the shards spread evenly. */
  spread: number;
  producerUs: number;
}

/**
 * A window's CPU less what the same processes used with nothing due over as long a window (leases,
 * heartbeats, refills, the cluster bus): the cost each more task adds. Matters most when a window
 * is long for its tasks (a low rate, or a burst whose last tasks came late).
 */
function lessIdle(r: ScaleResult, window: { nodeUs: number; redisUs: number[]; wallSeconds: number }, tasks: number): { nodeUs: number; redisUs: number[] } {
  const idleUs = (cpuPercent: number) => ((cpuPercent / 100) * window.wallSeconds * 1e6) / tasks;
  return {
    nodeUs: window.nodeUs - idleUs(r.idle.nodeCpu),
    redisUs: window.redisUs.map((value, i) => value - idleUs(r.idle.redisCpu[i] ?? 0)),
  };
}

/** The steady window's costs less idle. */
export const marginalUs = (r: ScaleResult) => lessIdle(r, r.steady, Math.round(r.steady.rate * r.steady.seconds));
/** The burst's fire costs less idle. */
export const burstMarginalUs = (r: ScaleResult) => lessIdle(r, r.burst, r.burst.count);

function costs(nodeUs: number, perMasterUs: number[], producerUs: number): PerTaskCosts {
  const total = sum(perMasterUs);
  return { nodeUs, redisUs: total, spread: perMasterUs.length > 1 && total > 0 ? (Math.max(...perMasterUs) * perMasterUs.length) / total : 1, producerUs };
}

/**
 * Two estimates of one configuration's costs. Steady (whole life less idle, at the measured rate):
 * tasks come a few per shard per claim, so per-call costs weigh; at a higher rate claims, finishes
 * and schedule calls carry more tasks each and cost less per task, so this bounds a higher rate's
 * costs from above. Batched (the burst: schedule in bulk calls of 10,000, then fire with full
 * claims): the least a task costs, a bound from below.
 */
export function costsOf(entry: ConfigResults): { steady: PerTaskCosts; batched: PerTaskCosts } {
  const runs = entry.runs;
  return {
    steady: costs(med(runs.map((r) => marginalUs(r).nodeUs)), medEach(runs.map((r) => marginalUs(r).redisUs)), med(runs.map((r) => r.steady.producerUs))),
    batched: costs(
      med(runs.map((r) => burstMarginalUs(r).nodeUs)),
      medEach(runs.map((r) => r.enqueue.redisUs.map((value, i) => value + (burstMarginalUs(r).redisUs[i] ?? 0)))),
      med(runs.map((r) => r.enqueue.producerUs)),
    ),
  };
}

/**
 * Single-threaded processes (one core each) needed to carry `rate` tasks/s at `costUs` each, each
 * kept at CAPACITY_UTILISATION of its core, of which `fixedShare` (its work with nothing due) is
 * spoken for: ⌈R × c ÷ (10⁶ × (U − f))⌉.
 */
export const coresFor = (rate: number, costUs: number, fixedShare = 0) =>
  Math.max(1, Math.ceil((rate * costUs) / (1e6 * Math.max(0.05, CAPACITY_UTILISATION - fixedShare))));

export function renderScale(entries: ConfigResults[], reference: ConfigResults | undefined, header: string): string {
  const first = entries[0]?.runs[0];
  const rate = first?.steady.rate ?? NaN;
  const seconds = first?.steady.seconds ?? NaN;
  const count = first?.burst.count ?? NaN;
  const outcome = entries.map(({ config, runs }) => {
    const m = (pick: (r: ScaleResult) => number | null) => med(runs.map((r) => pick(r) ?? NaN));
    const missing = m((r) => r.steady.notStarted);
    const shares = runs[0]!.shardsPerMaster;
    return (
      `| ${layoutLabel(config)} | ${config.shards}${shares.length > 1 ? ` (${shares.join("/")})` : ""} | ${config.nodes} | ` +
      `${whole(m((r) => r.burst.tasksPerSecond))} | ${[m((r) => r.burst.firstStartMs), m((r) => r.burst.medianStartMs), m((r) => r.burst.lastCompletionMs)].map(whole).join(" / ")} | ` +
      `${[m((r) => r.steady.lateness.p50), m((r) => r.steady.lateness.p99), m((r) => r.steady.lateness.p999), m((r) => r.steady.lateness.max)].map(whole).join(" / ")}${missing > 0 ? ` (≥; ${whole(missing)} not started)` : ""} | ` +
      `${whole(m((r) => r.burst.early + r.steady.lateness.early))} / ${whole(m((r) => r.burst.dropped + r.steady.dropped))} | ${whole(m((r) => r.burst.machineCpu))} % / ${whole(m((r) => r.steady.machineCpu))} % |`
    );
  });
  const costs = entries.map(({ config, runs }) => {
    const m = (pick: (r: ScaleResult) => number) => med(runs.map(pick));
    const idleRedis = medEach(runs.map((r) => r.idle.redisCpu));
    return (
      `| ${layoutLabel(config)} | ${config.shards} | ${config.nodes} | ` +
      `${us(m((r) => r.enqueue.producerUs))} / ${perMaster(medEach(runs.map((r) => r.enqueue.redisUs)))} | ` +
      `${us(m((r) => r.burst.nodeUs))} / ${perMaster(medEach(runs.map((r) => r.burst.redisUs)))} (less idle ${us(m((r) => burstMarginalUs(r).nodeUs))} / ${us(sum(medEach(runs.map((r) => burstMarginalUs(r).redisUs))))}) | ` +
      `${us(m((r) => r.steady.producerUs))} / ${us(m((r) => r.steady.nodeUs))} / ${perMaster(medEach(runs.map((r) => r.steady.redisUs)))} | ` +
      `${us(m((r) => marginalUs(r).nodeUs))} / ${perMaster(medEach(runs.map((r) => marginalUs(r).redisUs)))} | ` +
      `${us(m((r) => r.idle.nodeCpu))} / ${perMaster(idleRedis)} |`
    );
  });
  const lines = [
    header,
    "",
    `What it did (medians over runs): a burst of ${whole(count)} tasks due at one instant T, and ${whole(rate)} tasks/s for ${whole(seconds)} s due 0.1–3 s after they are scheduled; shards per master in brackets.`,
    "",
    `| Redis | shards | nodes | burst tasks/s, first start → last completion | burst first start / median start / last completion after T (ms) | steady lateness p50 / p99 / p99.9 / max (ms) | started early / dropped unstarted (back through the reaper after the 30 s visibility deadline) | machine CPU burst / steady (200 % = 2 cores) |`,
    "|---|---|--:|--:|--:|--:|--:|--:|",
    ...outcome,
    "",
    "CPU per task in µs (utime + stime from /proc over the window, divided by the window's tasks; counted in clock ticks of 10 ms, so a figure is ± 10 ms ÷ the window's tasks: ± 0.2 µs for a burst of 50,000, ± 4 µs for 2,500); Redis per master as `master 1 + master 2 + master 3 = total`. " +
      "Schedule: the enqueue of the burst (producer, Redis); fire: T − 20 ms → last completion of the burst (the nodes together, Redis); " +
      "whole life: the steady window (producer, nodes, Redis: schedule, claim, start, finish, plus the background work of that window); " +
      "less idle: the same less what the processes used with nothing due over as long a window (the cost one more task adds); idle: % of a core with nothing due (nodes together / Redis).",
    "",
    "| Redis | shards | nodes | schedule: producer / Redis | fire: nodes / Redis | whole life (steady): producer / nodes / Redis | whole life less idle: nodes / Redis | idle % of a core: nodes / Redis |",
    "|---|---|--:|---|---|---|---|---|",
    ...costs,
  ];
  if (reference) lines.push("", ...renderCapacity(reference));
  return lines.join("\n");
}

/** The capacity on paper: node processes, masters and producer cores per target rate (docs/scaling.md). */
export function renderCapacity(entry: ConfigResults): string[] {
  const { steady, batched } = costsOf(entry);
  const idleNode = med(entry.runs.map((r) => r.idle.nodeCpu / entry.config.nodes));
  const idleMaster = Math.max(...medEach(entry.runs.map((r) => r.idle.redisCpu)));
  const rate = entry.runs[0]?.steady.rate ?? NaN;
  const pair = (pick: (c: PerTaskCosts) => number) => `${whole(pick(steady))} / ${whole(pick(batched))}`;
  const rows = TARGET_RATES.map((target) => {
    const need = (c: PerTaskCosts) => ({
      nodes: coresFor(target, c.nodeUs, idleNode / 100),
      masters: coresFor(target, c.redisUs, idleMaster / 100),
      spread: coresFor(target, c.redisUs * c.spread, idleMaster / 100),
      producers: coresFor(target, c.producerUs),
    });
    const high = need(steady);
    const low = need(batched);
    return (
      `| ${whole(target)} | ${high.nodes} / ${low.nodes} | ${high.masters} / ${low.masters} | ${high.spread} / ${low.spread} | ${high.producers} / ${low.producers} | ` +
      `${high.nodes + high.spread + high.producers} / ${low.nodes + low.spread + low.producers} |`
    );
  });
  const costLine = (label: string, c: PerTaskCosts) =>
    `${label}: node ${us(c.nodeUs)} µs, Redis ${us(c.redisUs)} µs (all masters; the hottest ${c.spread.toFixed(2)}× an even share), producer ${us(c.producerUs)} µs per task`;
  return [
    `Capacity on paper (docs/scaling.md) from the costs of **${configLabel(entry.config)}**, each figure as *steady / batched*. ` +
      `${costLine(`Steady (whole life less idle at ${whole(rate)}/s; per-call costs weigh more at a low rate: an upper bound above it)`, steady)}. ` +
      `${costLine("Batched (schedule in bulk calls + burst fire less idle: a lower bound)", batched)}. ` +
      `One node process or master uses at most one core (JavaScript, and Redis' commands, each run on one thread): at ${CAPACITY_UTILISATION * 100} % of it a node carries ${pair((c) => (1e6 * CAPACITY_UTILISATION) / c.nodeUs)} tasks/s, ` +
      `a master ${pair((c) => (1e6 * CAPACITY_UTILISATION) / c.redisUs)} tasks/s of the whole Redis work. ` +
      `Needed for a rate R: ⌈R × cost ÷ (10⁶ × (${CAPACITY_UTILISATION} − f))⌉ of each, f being a process's share of a core with nothing due ` +
      `(here ${us(idleNode)} % per node, ${us(idleMaster)} % for the busiest master; 0 for the producer), and Redis' cost × the spread when the shards do not land evenly on the masters.`,
    "",
    "| target tasks/s | node processes (cores) | Redis masters, even spread | Redis masters at the measured spread | producer cores | cores in all (measured spread) |",
    "|--:|--:|--:|--:|--:|--:|",
    ...rows,
  ];
}
