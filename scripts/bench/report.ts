/**
 * Turns the runs into the table of both systems (medians across runs, with the
 * ratio and the issue's target) plus the machine, versions and per-run
 * figures, as Markdown for the terminal and BENCHMARKS.md.
 */
import type { BurstResult, EnqueueResult, MemoryResult, SteadyResult } from "./cases.ts";
import type { CeleryBurstResult } from "./celery-case.ts";
import type { MachineInfo } from "./process-stats.ts";
import type { SystemName } from "./systems.ts";
import type { WebhookBurstResult, WebhookSteadyResult } from "./webhook-cases.ts";

type PerSystem<T> = Record<SystemName, T[]>;

export interface Results {
  enqueue: PerSystem<EnqueueResult>;
  memory: PerSystem<MemoryResult>;
  burst: PerSystem<BurstResult>;
  steady: Map<number, PerSystem<SteadyResult>>;
  /** tickwheel only: BullMQ has no HTTP delivery. */
  webhookBurst: WebhookBurstResult[];
  webhookSteady: WebhookSteadyResult[];
  /** tickwheel only (case 5). */
  celery: CeleryBurstResult[];
}

export interface ReportInput {
  results: Results;
  cases: readonly string[];
  machine: MachineInfo;
  command: string;
  /** Runs per case and system. */
  runs: Record<string, number>;
  steadySeconds: number;
  counts: { enqueue: number; memory: number; burst: number; webhookBurst: number; celery: number };
  settings: { tickwheelConcurrency: number; bullmqConcurrency: number; webhookConcurrency: number; webhookRate: number };
  durationS: number;
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ms = (n: number) => (Number.isFinite(n) ? (Number.isInteger(n) ? String(n) : n.toFixed(1)) : "–");
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} %` : "–");
const times = (n: number) => (Number.isFinite(n) ? `${n >= 10 ? Math.round(n) : n.toFixed(1)}×` : "–");
const check = (ok: boolean | null) => (ok === null ? "" : ok ? " ✅" : " ❌");

interface Row {
  caseLabel: string;
  metric: string;
  tickwheel: string;
  bullmq: string;
  ratio: string;
  target: string;
}

export function renderReport(input: ReportInput): string {
  const { results, machine } = input;
  const rows: Row[] = [];
  const m = <T>(list: T[], pick: (item: T) => number) => median(list.map(pick));
  const has = (name: string) => input.cases.includes(name);

  if (has("enqueue")) {
    const tw = m(results.enqueue.tickwheel, (r) => r.tasksPerSecond);
    const bq = m(results.enqueue.bullmq, (r) => r.tasksPerSecond);
    rows.push({ caseLabel: `1 enqueue ${int(input.counts.enqueue)} due in 1 h`, metric: "tasks/s (bulk API)", tickwheel: int(tw), bullmq: int(bq), ratio: times(tw / bq), target: `≥ 8×${check(tw / bq >= 8)}` });
    rows.push({
      caseLabel: "",
      metric: "CPU producer / redis (% of a core)",
      tickwheel: `${pct(m(results.enqueue.tickwheel, (r) => r.producerCpu))} / ${pct(m(results.enqueue.tickwheel, (r) => r.redisCpu))}`,
      bullmq: `${pct(m(results.enqueue.bullmq, (r) => r.producerCpu))} / ${pct(m(results.enqueue.bullmq, (r) => r.redisCpu))}`,
      ratio: "",
      target: "",
    });
  }
  if (has("memory")) {
    const tw = m(results.memory.tickwheel, (r) => r.bytesPerTask);
    const bq = m(results.memory.bullmq, (r) => r.bytesPerTask);
    rows.push({ caseLabel: `2 memory, ${int(input.counts.memory)} pending`, metric: "Redis used_memory per task (bytes)", tickwheel: int(tw), bullmq: int(bq), ratio: pct((100 * tw) / bq), target: `≤ 40 %${check(tw / bq <= 0.4)}` });
    const idle = (r: MemoryResult) => r.rssIdleMB;
    const pend = (r: MemoryResult) => r.rssPendingMB;
    const twGrowth = m(results.memory.tickwheel, (r) => r.rssPendingMB - r.rssIdleMB);
    rows.push({
      caseLabel: "",
      metric: "node / worker RSS idle → pending (MB)",
      tickwheel: `${ms(m(results.memory.tickwheel, idle))} → ${ms(m(results.memory.tickwheel, pend))}`,
      bullmq: `${ms(m(results.memory.bullmq, idle))} → ${ms(m(results.memory.bullmq, pend))}`,
      ratio: "",
      target: `flat, ≤ +10 MB${check(twGrowth <= 10)}`,
    });
    rows.push(cpuRow(results.memory, "while enqueueing"));
  }
  if (has("burst")) {
    const b = results.burst;
    const first = m(b.tickwheel, (r) => r.firstStartMs);
    rows.push({ caseLabel: `3 burst, ${int(input.counts.burst)} due at T`, metric: "first start after T (ms)", tickwheel: ms(first), bullmq: ms(m(b.bullmq, (r) => r.firstStartMs)), ratio: "", target: `≤ 5 ms${check(first <= 5)}` });
    rows.push({ caseLabel: "", metric: "median start after T (ms)", tickwheel: ms(m(b.tickwheel, (r) => r.medianStartMs)), bullmq: ms(m(b.bullmq, (r) => r.medianStartMs)), ratio: "", target: "" });
    rows.push({ caseLabel: "", metric: "last start / last completion after T (ms)", tickwheel: `${ms(m(b.tickwheel, (r) => r.lastStartMs))} / ${ms(m(b.tickwheel, (r) => r.lastCompletionMs))}`, bullmq: `${ms(m(b.bullmq, (r) => r.lastStartMs))} / ${ms(m(b.bullmq, (r) => r.lastCompletionMs))}`, ratio: "", target: "" });
    const tw = m(b.tickwheel, (r) => r.tasksPerSecond);
    const bq = m(b.bullmq, (r) => r.tasksPerSecond);
    rows.push({ caseLabel: "", metric: "throughput, first start → last completion (tasks/s)", tickwheel: int(tw), bullmq: int(bq), ratio: times(tw / bq), target: `≥ 10×${check(tw / bq >= 10)}` });
    const early = m(b.tickwheel, (r) => r.early);
    rows.push({ caseLabel: "", metric: "started early", tickwheel: int(early), bullmq: int(m(b.bullmq, (r) => r.early)), ratio: "", target: `0${check(early === 0)}` });
    rows.push(cpuRow(b, "T → last completion"));
  }
  if (has("steady")) {
    const p99Targets: Record<number, number> = { 1000: 2, 5000: 3, 20000: 10 };
    for (const [rate, perSystem] of results.steady) {
      const summary = (list: SteadyResult[]) => {
        const parts = [
          m(list, (r) => r.lateness.p50 ?? NaN),
          m(list, (r) => r.lateness.p90 ?? NaN),
          m(list, (r) => r.lateness.p99 ?? NaN),
          m(list, (r) => r.lateness.p999 ?? NaN),
          m(list, (r) => r.lateness.max ?? NaN),
        ].map(ms);
        const missing = m(list, (r) => r.notStarted);
        return `${parts.join(" / ")}${missing > 0 ? ` (≥; ${int(missing)} not started ${DRAIN_NOTE})` : ""}`;
      };
      const p99 = m(perSystem.tickwheel, (r) => r.lateness.p99 ?? NaN);
      const target = p99Targets[rate];
      rows.push({
        caseLabel: `4 steady ${int(rate)}/s for ${input.steadySeconds} s, delay 0.1–3 s`,
        metric: "lateness p50 / p90 / p99 / p99.9 / max (ms)",
        tickwheel: summary(perSystem.tickwheel),
        bullmq: summary(perSystem.bullmq),
        ratio: "",
        target: target === undefined ? "" : `p99 ≤ ${target} ms${check(p99 <= target)}`,
      });
      const early = m(perSystem.tickwheel, (r) => r.lateness.early);
      rows.push({ caseLabel: "", metric: "started early", tickwheel: int(early), bullmq: int(m(perSystem.bullmq, (r) => r.lateness.early)), ratio: "", target: `0${check(early === 0)}` });
      rows.push(cpuRow(perSystem, "whole run"));
    }
  }

  if (has("webhook-burst")) {
    const list = results.webhookBurst;
    const rate = m(list, (r) => r.deliveriesPerSecond);
    rows.push({ caseLabel: `5 webhook burst, ${int(input.counts.webhookBurst)} due at T`, metric: "first / median / last arrival after T (ms)", tickwheel: `${ms(m(list, (r) => r.firstArrivalMs))} / ${ms(m(list, (r) => r.medianArrivalMs))} / ${ms(m(list, (r) => r.lastArrivalMs))}`, bullmq: "n/a", ratio: "", target: "" });
    rows.push({ caseLabel: "", metric: "signed deliveries/s to a local keep-alive server, first → last arrival", tickwheel: int(rate), bullmq: "n/a", ratio: "", target: `≥ 10,000/s${check(rate >= 10_000)}` });
    rows.push({ caseLabel: "", metric: "CPU node / receiver / redis, T → last arrival (% of a core)", tickwheel: webhookCpu(list), bullmq: "", ratio: "", target: "" });
  }
  if (has("webhook-steady")) {
    const list = results.webhookSteady;
    const p99 = m(list, (r) => r.lateness.p99 ?? NaN);
    const parts = [m(list, (r) => r.lateness.p50 ?? NaN), m(list, (r) => r.lateness.p90 ?? NaN), p99, m(list, (r) => r.lateness.p999 ?? NaN), m(list, (r) => r.lateness.max ?? NaN)].map(ms);
    const missing = m(list, (r) => r.notArrived);
    rows.push({
      caseLabel: `6 webhook steady ${int(input.settings.webhookRate)}/s for ${input.steadySeconds} s, delay 0.1–3 s`,
      metric: "arrival − due at the receiver p50 / p90 / p99 / p99.9 / max (ms)",
      tickwheel: `${parts.join(" / ")}${missing > 0 ? ` (≥; ${int(missing)} not arrived ${DRAIN_NOTE})` : ""}`,
      bullmq: "n/a",
      ratio: "",
      target: `p99 ≤ 5 ms${check(p99 <= 5)}`,
    });
    rows.push({ caseLabel: "", metric: "CPU node / receiver / redis, whole run (% of a core)", tickwheel: webhookCpu(list), bullmq: "", ratio: "", target: "" });
  }
  if (has("celery")) {
    for (const layout of ["same-server", "separate-broker"] as const) {
      const list = results.celery.filter((r) => r.layout === layout);
      if (list.length === 0) continue;
      const first = m(list, (r) => r.firstPushMs);
      const rate = m(list, (r) => r.messagesPerSecond);
      const label = layout === "same-server" ? "broker on tickwheel's Redis server (one script)" : "broker on another redis-server (push, then finish)";
      rows.push({ caseLabel: `7 Celery hand-off, ${int(input.counts.celery)} due at T, ${label}`, metric: "first message on the list after T (ms)", tickwheel: ms(first), bullmq: "", ratio: "", target: `≤ 5 ms${check(first <= 5)}` });
      rows.push({ caseLabel: "", metric: "messages pushed per second, first → last", tickwheel: int(rate), bullmq: "", ratio: "", target: `≥ 50,000${check(rate >= 50_000)}` });
      rows.push({ caseLabel: "", metric: "last message after T (ms)", tickwheel: ms(m(list, (r) => r.lastPushMs)), bullmq: "", ratio: "", target: "" });
      const cell = `${pct(m(list, (r) => r.nodeCpu))} / ${pct(m(list, (r) => r.redisCpu))} (machine ${pct(m(list, (r) => r.machineCpu))})`;
      rows.push({ caseLabel: "", metric: "CPU node / redis, T → last message (% of a core)", tickwheel: cell, bullmq: "", ratio: "", target: "" });
    }
  }

  const table = [
    "| case | metric | tickwheel | BullMQ | ratio | target |",
    "|---|---|--:|--:|--:|---|",
    ...rows.map((r) => `| ${r.caseLabel} | ${r.metric} | ${r.tickwheel} | ${r.bullmq} | ${r.ratio} | ${r.target} |`),
  ].join("\n");

  return [
    `Command: \`${input.command}\` (runs per case and system: ${Object.entries(input.runs).map(([name, n]) => `${name} ${n}`).join(", ")}; medians; took ${Math.round(input.durationS / 60)} min). ` +
      `Run on ${new Date().toISOString().slice(0, 10)}.`,
    "",
    table,
    "",
    `Machine: ${machine.cpus} CPUs (nproc), ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ${machine.os}. ` +
      `Versions: tickwheel ${machine.tickwheel}, BullMQ ${machine.bullmq}, Bun ${machine.bun}, redis-server ${machine.redis} (private, no persistence).`,
    "",
    `Settings: tickwheel node 16 shards, TICKWHEEL_CONCURRENCY=${input.settings.tickwheelConcurrency}, other settings default; ` +
      `BullMQ Worker concurrency ${input.settings.bullmqConcurrency}, other options default. Both keep finished tasks by default ` +
      `(tickwheel: final record with a 24 h TTL; BullMQ: completed set), and both run as their own process beside the producer.` +
      (has("webhook-burst") || has("webhook-steady") ? ` Webhook cases: TICKWHEEL_CONCURRENCY=${input.settings.webhookConcurrency} (deliveries in flight), the receiver a Bun.serve process answering 204.` : ""),
    "",
    "<details><summary>Every run</summary>",
    "",
    "```",
    ...perRunLines(input),
    "```",
    "",
    "</details>",
  ].join("\n");
}

const DRAIN_NOTE = "10 s after the last due time";

function webhookCpu(list: { nodeCpu: number; receiverCpu: number; redisCpu: number; machineCpu: number; loadAverage: [number, number] }[]): string {
  const m = (pick: (r: (typeof list)[number]) => number) => median(list.map(pick));
  return `${pct(m((r) => r.nodeCpu))} / ${pct(m((r) => r.receiverCpu))} / ${pct(m((r) => r.redisCpu))} (machine ${pct(m((r) => r.machineCpu))}, load average ${m((r) => r.loadAverage[0]).toFixed(1)} → ${m((r) => r.loadAverage[1]).toFixed(1)})`;
}

function cpuRow<T extends { workerCpu: number; redisCpu: number; machineCpu?: number }>(perSystem: PerSystem<T>, when: string): Row {
  const cell = (list: T[]) => {
    const machine = median(list.map((r) => r.machineCpu ?? NaN));
    return `${pct(median(list.map((r) => r.workerCpu)))} / ${pct(median(list.map((r) => r.redisCpu)))}${Number.isFinite(machine) ? ` (machine ${pct(machine)})` : ""}`;
  };
  return { caseLabel: "", metric: `CPU node (worker) / redis, ${when} (% of a core)`, tickwheel: cell(perSystem.tickwheel), bullmq: cell(perSystem.bullmq), ratio: "", target: "" };
}

function perRunLines(input: ReportInput): string[] {
  const lines: string[] = [];
  const round = (value: unknown): unknown =>
    typeof value === "number"
      ? Math.round(value * 10) / 10
      : Array.isArray(value)
        ? value.map(round)
        : value && typeof value === "object"
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, round(v)]))
          : value;
  const add = (label: string, perSystem: PerSystem<object>) => {
    for (const name of ["tickwheel", "bullmq"] as const) {
      perSystem[name].forEach((result, i) => lines.push(`${label} ${name} #${i + 1}: ${JSON.stringify(round(result))}`));
    }
  };
  if (input.cases.includes("enqueue")) add("enqueue", input.results.enqueue);
  if (input.cases.includes("memory")) add("memory", input.results.memory);
  if (input.cases.includes("burst")) add("burst", input.results.burst);
  if (input.cases.includes("steady")) for (const [rate, perSystem] of input.results.steady) add(`steady ${rate}/s`, perSystem);
  if (input.cases.includes("webhook-burst")) input.results.webhookBurst.forEach((result, i) => lines.push(`webhook burst #${i + 1}: ${JSON.stringify(round(result))}`));
  if (input.cases.includes("webhook-steady")) input.results.webhookSteady.forEach((result, i) => lines.push(`webhook steady #${i + 1}: ${JSON.stringify(round(result))}`));
  if (input.cases.includes("celery")) input.results.celery.forEach((result, i) => lines.push(`celery ${result.layout} #${i + 1}: ${JSON.stringify(round(result))}`));
  return lines;
}
