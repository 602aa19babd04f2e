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

/** The per-task costs the capacity estimate starts from (medians of one configuration). */
export interface PerTaskCosts {
  from: string;
  nodeUs: number;
  redisUs: number;
  /** Hottest master's share of Redis' CPU × masters: 1 when the shards spread evenly. */
  spread: number;
  producerUs: number;
}

export function costsOf(entry: ConfigResults): PerTaskCosts {
  const redis = medEach(entry.runs.map((r) => r.steady.redisUs));
  const total = sum(redis);
  return {
    from: configLabel(entry.config),
    nodeUs: med(entry.runs.map((r) => r.steady.nodeUs)),
    redisUs: total,
    spread: redis.length > 1 && total > 0 ? (Math.max(...redis) * redis.length) / total : 1,
    producerUs: med(entry.runs.map((r) => r.steady.producerUs)),
  };
}

/** Cores (= single-threaded processes) needed to carry `rate` tasks/s at `costUs` each, at CAPACITY_UTILISATION. */
export const coresFor = (rate: number, costUs: number) => Math.max(1, Math.ceil((rate * costUs) / (1e6 * CAPACITY_UTILISATION)));

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
      `${whole(m((r) => r.burst.early + r.steady.lateness.early))} | ${whole(m((r) => r.burst.machineCpu))} % / ${whole(m((r) => r.steady.machineCpu))} % |`
    );
  });
  const costs = entries.map(({ config, runs }) => {
    const m = (pick: (r: ScaleResult) => number) => med(runs.map(pick));
    const idleRedis = medEach(runs.map((r) => r.idle.redisCpu));
    return (
      `| ${layoutLabel(config)} | ${config.shards} | ${config.nodes} | ` +
      `${us(m((r) => r.enqueue.producerUs))} / ${perMaster(medEach(runs.map((r) => r.enqueue.redisUs)))} | ` +
      `${us(m((r) => r.burst.nodeUs))} / ${perMaster(medEach(runs.map((r) => r.burst.redisUs)))} | ` +
      `${us(m((r) => r.steady.producerUs))} / ${us(m((r) => r.steady.nodeUs))} / ${perMaster(medEach(runs.map((r) => r.steady.redisUs)))} | ` +
      `${us(m((r) => r.idle.nodeCpu))} / ${perMaster(idleRedis)} |`
    );
  });
  const lines = [
    header,
    "",
    `What it did (medians over runs): a burst of ${whole(count)} tasks due at one instant T, and ${whole(rate)} tasks/s for ${whole(seconds)} s due 0.1–3 s after they are scheduled; shards per master in brackets.`,
    "",
    `| Redis | shards | nodes | burst tasks/s, first start → last completion | burst first start / median start / last completion after T (ms) | steady lateness p50 / p99 / p99.9 / max (ms) | started early | machine CPU burst / steady (200 % = 2 cores) |`,
    "|---|---|--:|--:|--:|--:|--:|--:|",
    ...outcome,
    "",
    "CPU per task in µs (utime + stime from /proc over the window, divided by the window's tasks); Redis per master as `master 1 + master 2 + master 3 = total`. " +
      "Schedule: the enqueue of the burst (producer, Redis); fire: T − 20 ms → last completion of the burst (the nodes together, Redis); " +
      "whole life: the steady window (producer, nodes, Redis: schedule, claim, start, finish, plus the background work of that window); idle: % of a core with nothing due (nodes together / Redis).",
    "",
    "| Redis | shards | nodes | schedule: producer / Redis | fire: nodes / Redis | whole life (steady): producer / nodes / Redis | idle % of a core: nodes / Redis |",
    "|---|---|--:|---|---|---|---|",
    ...costs,
  ];
  if (reference) lines.push("", ...renderCapacity(costsOf(reference)));
  return lines.join("\n");
}

/** The capacity on paper: node processes, masters and producer cores per target rate (docs/scaling.md). */
export function renderCapacity(costs: PerTaskCosts): string[] {
  const rows = TARGET_RATES.map((rate) => {
    const nodes = coresFor(rate, costs.nodeUs);
    const mastersEven = coresFor(rate, costs.redisUs);
    const mastersAsMeasured = coresFor(rate, costs.redisUs * costs.spread);
    const producers = coresFor(rate, costs.producerUs);
    return `| ${whole(rate)} | ${nodes} | ${mastersEven} (${mastersAsMeasured} at the measured spread) | ${producers} | ${nodes + mastersEven + producers} |`;
  });
  return [
    `Capacity on paper from the whole-life costs of **${costs.from}** (docs/scaling.md): node ${us(costs.nodeUs)} µs, Redis ${us(costs.redisUs)} µs (all masters; hottest master ${costs.spread.toFixed(2)}× an even share), producer ${us(costs.producerUs)} µs per task. ` +
      `One node process or master uses one core (JavaScript and Redis commands each run on one thread), so it carries ${whole((1e6 * CAPACITY_UTILISATION) / costs.nodeUs)} / ${whole((1e6 * CAPACITY_UTILISATION) / costs.redisUs)} tasks/s (node / whole Redis) at ${CAPACITY_UTILISATION * 100} % of its core; ` +
      `needed for rate R: ⌈R × cost ÷ (10⁶ × ${CAPACITY_UTILISATION})⌉ of each.`,
    "",
    "| target tasks/s | node processes (cores) | Redis masters, even spread | producer cores | cores in all |",
    "|--:|--:|--:|--:|--:|",
    ...rows,
  ];
}
