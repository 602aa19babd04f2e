/**
 * `bun run bench [enqueue|memory|burst|steady|celery ...] [flags]`: tickwheel against
 * BullMQ on the same cases, one after the other, each run on its own private
 * redis-server (no persistence), with a no-op handler. Prints one table of
 * both with the ratio and, after a full run, writes it with the machine and
 * versions into BENCHMARKS.md (between the results markers; the analysis
 * around them is kept).
 *
 * Flags:
 *   --runs N                 runs per case and system (default: 2 for enqueue and memory, 3 for
 *                            burst and steady, whose tails a busy neighbour can move; medians quoted)
 *   --steady-seconds S       length of each steady-rate run (default 20; the issue's figure is 60)
 *   --rates a,b,c            steady rates per second (default 1000,5000,20000)
 *   --systems a,b            tickwheel,bullmq (default both)
 *   --bullmq-concurrency N   BullMQ Worker concurrency (default 100)
 *   --concurrency N          tickwheel TICKWHEEL_CONCURRENCY (default 5000)
 *   --scale F                multiply every task count by F (quick trial runs)
 *   --webhook-concurrency N  the webhook cases' TICKWHEEL_CONCURRENCY (deliveries in flight; default 256)
 *   --webhook-rate N         the webhook steady case's rate per second (default 1000)
 *   --write / --no-write     write BENCHMARKS.md (default: only when every case ran at scale 1)
 *   --schedules N            schedules in the `schedules` case (default 100000, each every minute)
 *   --schedules-seconds S    measured window of the `schedules` case after the first round (default 45)
 *
 * The webhook cases (webhook-burst, webhook-steady) run tickwheel alone (BullMQ has no HTTP
 * delivery): a node delivering signed webhooks to a local keep-alive server (webhook-cases.ts).
 *
 * The `schedules` case (recurring schedules against BullMQ job schedulers) runs only when named:
 * `bun run bench schedules`. Its table goes to its own section of BENCHMARKS.md.
 */
import { parseArgs } from "node:util";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { burstCase, enqueueCase, memoryCase, steadyCase, type BurstResult, type EnqueueResult, type MemoryResult, type SteadyResult } from "./bench/cases.ts";
import { celeryBurstCase, type CeleryBurstResult, type CeleryLayout } from "./bench/celery-case.ts";
import { systems as makeSystems, type SystemName } from "./bench/systems.ts";
import { machineInfo } from "./bench/process-stats.ts";
import { renderReport, type Results } from "./bench/report.ts";
import { renderSchedules, schedulesCase, type SchedulesResult } from "./bench/schedules-case.ts";
import { webhookBurstCase, webhookSteadyCase } from "./bench/webhook-cases.ts";

const CASES = ["enqueue", "memory", "burst", "steady", "webhook-burst", "webhook-steady", "celery"] as const;
type CaseName = (typeof CASES)[number];

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    runs: { type: "string" },
    "steady-seconds": { type: "string", default: "20" },
    rates: { type: "string", default: "1000,5000,20000" },
    systems: { type: "string", default: "tickwheel,bullmq" },
    "bullmq-concurrency": { type: "string", default: "100" },
    concurrency: { type: "string", default: "5000" },
    "webhook-concurrency": { type: "string", default: "256" },
    "webhook-rate": { type: "string", default: "1000" },
    scale: { type: "string", default: "1" },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
    schedules: { type: "string", default: "100000" },
    "schedules-seconds": { type: "string", default: "45" },
  },
});

const wantsSchedules = positionals.includes("schedules");
if (wantsSchedules) positionals.splice(positionals.indexOf("schedules"), 1);
for (const name of positionals) {
  if (!CASES.includes(name as CaseName)) {
    console.error(`unknown case "${name}": expected any of ${CASES.join(", ")}`);
    process.exit(2);
  }
}
const cases = positionals.length ? (positionals as CaseName[]) : [...CASES];
const runsOf = (caseName: CaseName) => (values.runs ? Number(values.runs) : caseName === "burst" || caseName === "steady" || caseName.startsWith("webhook") || caseName === "celery" ? 3 : 2);
const steadySeconds = Number(values["steady-seconds"]);
const rates = values.rates!.split(",").map(Number);
const scale = Number(values.scale);
const systemNames = values.systems!.split(",") as SystemName[];
// BENCH_TICKWHEEL_ENV='{"TICKWHEEL_CLAIM_BATCH":"500"}' tries other node settings.
const tickwheelEnv: Record<string, string> = { TICKWHEEL_CONCURRENCY: values.concurrency!, ...JSON.parse(process.env.BENCH_TICKWHEEL_ENV ?? "{}") };
const bullmqConcurrency = Number(values["bullmq-concurrency"]);
const systems = makeSystems({ tickwheelEnv, bullmqConcurrency });
const began = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
if (wantsSchedules && positionals.length === 0) {
  await runSchedulesCase();
  process.exit(0);
}

const counts = {
  enqueue: Math.round(200_000 * scale),
  memory: Math.round(1_000_000 * scale),
  burst: Math.round(100_000 * scale),
  webhookBurst: Math.round(50_000 * scale),
  celery: Math.round(50_000 * scale),
};
const webhookSettings = { concurrency: Number(values["webhook-concurrency"]), nodeEnv: JSON.parse(process.env.BENCH_TICKWHEEL_ENV ?? "{}") as Record<string, string> };
const webhookRate = Number(values["webhook-rate"]);
// Time between starting the enqueue and the burst instant T; enqueueing must end well before T.
const burstLeadMs: Record<SystemName, number> = { tickwheel: 5_000, bullmq: 15_000 };

const results: Results = {
  enqueue: { tickwheel: [], bullmq: [] },
  memory: { tickwheel: [], bullmq: [] },
  burst: { tickwheel: [], bullmq: [] },
  steady: new Map(rates.map((rate) => [rate, { tickwheel: [], bullmq: [] }])),
  webhookBurst: [],
  webhookSteady: [],
  celery: [],
};
const CELERY_LAYOUTS: CeleryLayout[] = ["same-server", "separate-broker"];

for (const caseName of cases) {
  for (let run = 1; run <= runsOf(caseName); run++) {
    if (caseName === "webhook-burst") {
      const result = await webhookBurstCase(counts.webhookBurst, webhookSettings);
      results.webhookBurst.push(result);
      log(`webhook burst run ${run}: first arrival ${result.firstArrivalMs} ms, last ${result.lastArrivalMs} ms, ${Math.round(result.deliveriesPerSecond)} deliveries/s`);
      continue;
    }
    if (caseName === "webhook-steady") {
      const result = await webhookSteadyCase(webhookRate, steadySeconds, webhookSettings);
      results.webhookSteady.push(result);
      const l = result.lateness;
      log(`webhook steady ${webhookRate}/s run ${run}: arrival lateness p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max}${result.notArrived ? ` (${result.notArrived} not arrived)` : ""}`);
      continue;
    }
    if (caseName === "celery") {
      // tickwheel only: Celery messages pushed by a node, no BullMQ counterpart.
      for (const layout of CELERY_LAYOUTS) {
        const result: CeleryBurstResult = await celeryBurstCase(layout, counts.celery, values.concurrency!);
        results.celery.push(result);
        log(`celery ${layout} run ${run}: first push ${result.firstPushMs} ms, last ${result.lastPushMs} ms, ${Math.round(result.messagesPerSecond)} messages/s`);
      }
      continue;
    }
    for (const systemName of systemNames) {
      const system = systems[systemName];
      if (caseName === "enqueue") {
        const result: EnqueueResult = await enqueueCase(system, counts.enqueue);
        results.enqueue[systemName].push(result);
        log(`enqueue ${systemName} run ${run}: ${Math.round(result.tasksPerSecond)} tasks/s`);
      } else if (caseName === "memory") {
        const result: MemoryResult = await memoryCase(system, counts.memory);
        results.memory[systemName].push(result);
        log(`memory ${systemName} run ${run}: ${result.bytesPerTask.toFixed(1)} B/task, RSS ${result.rssIdleMB.toFixed(1)} → ${result.rssPendingMB.toFixed(1)} MB`);
      } else if (caseName === "burst") {
        const result: BurstResult = await burstCase(system, counts.burst, burstLeadMs[systemName]);
        results.burst[systemName].push(result);
        log(`burst ${systemName} run ${run}: first ${result.firstStartMs} ms, median ${result.medianStartMs} ms, last completion ${result.lastCompletionMs} ms, ${Math.round(result.tasksPerSecond)} tasks/s`);
      } else {
        for (const rate of rates) {
          const result: SteadyResult = await steadyCase(system, rate, steadySeconds);
          results.steady.get(rate)![systemName].push(result);
          const l = result.lateness;
          log(`steady ${rate}/s ${systemName} run ${run}: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} early ${l.early}${result.notStarted ? ` (${result.notStarted} not started)` : ""}`);
        }
      }
    }
  }
}

const machine = machineInfo();
const command = ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" ");
const report = renderReport({
  results,
  cases,
  machine,
  command,
  runs: Object.fromEntries(cases.map((name) => [name, runsOf(name)])),
  steadySeconds,
  counts,
  settings: { tickwheelConcurrency: Number(values.concurrency), bullmqConcurrency, webhookConcurrency: webhookSettings.concurrency, webhookRate },
  durationS: Math.round((Date.now() - began) / 1000),
});
console.log("\n" + report);

const fullRun = cases.length === CASES.length && scale === 1 && systemNames.length === 2;
if (values.write || (fullRun && !values["no-write"])) {
  const path = join(import.meta.dir, "..", "BENCHMARKS.md");
  const begin = "<!-- bench:results:begin -->";
  const end = "<!-- bench:results:end -->";
  const block = `${begin}\n${report}\n${end}`;
  const current = existsSync(path) ? readFileSync(path, "utf8") : `# Benchmarks\n\n${begin}\n${end}\n`;
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current}\n${block}\n`;
  writeFileSync(path, next);
  log(`wrote ${path}`);
}

if (wantsSchedules) await runSchedulesCase();

/** `bun run bench schedules`: recurring schedules, tickwheel against BullMQ job schedulers. */
async function runSchedulesCase(): Promise<void> {
  const count = Number(values.schedules);
  const seconds = Number(values["schedules-seconds"]);
  const shards = Number(process.env.BENCH_SHARDS ?? 16);
  const found: SchedulesResult[] = [];
  for (const systemName of systemNames) {
    const result = await schedulesCase(systems[systemName], count, seconds, shards);
    found.push(result);
    const l = result.lateness;
    log(`schedules ${systemName}: ${count} created in ${result.createSeconds.toFixed(1)} s; ${result.started} of ~${result.expected} occurrences started; lateness p50 ${l.p50} p99 ${l.p99} max ${l.max} early ${l.early}; ${Math.round(result.bytesPerSchedule)} B/schedule; RSS ${result.rssIdleMB.toFixed(0)} → ${result.rssLoadedMB.toFixed(0)} MB`);
  }
  const m = machineInfo();
  const table = renderSchedules(found, ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" "), `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.os}, Bun ${m.bun}, redis-server ${m.redis}, BullMQ ${m.bullmq}, tickwheel ${m.tickwheel}; machine shared with other work`);
  console.log("\n" + table);
  if (values.write || (count === 100_000 && systemNames.length === 2 && !values["no-write"])) {
    const path = join(import.meta.dir, "..", "BENCHMARKS.md");
    const begin = "<!-- bench:schedules:begin -->";
    const end = "<!-- bench:schedules:end -->";
    const block = `${begin}\n${table}\n${end}`;
    const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
    const from = current.indexOf(begin);
    const to = current.indexOf(end);
    const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current}\n## Recurring schedules\n\n${block}\n`;
    writeFileSync(path, next);
    log(`wrote the schedules table to ${path}`);
  }
}
