/**
 * `bun run bench [case ...] [flags]`: tickwheel against BullMQ (and Celery as
 * an anchor) on the same cases, one after the other, each run on its own
 * private redis-server (no persistence), with a no-op handler. Prints one
 * table of both with the ratio and, after a full run, writes it with the
 * machine and versions into BENCHMARKS.md (between the results markers; the
 * analysis around them is kept).
 *
 * Worker concurrency is the same for both systems in every headline row: the
 * burst and steady cases run at 100 and at 1,000 for both, plus tickwheel at
 * its default (64); a system's own better setting is an extra, named row.
 * The Celery hand-off case (celery-push) runs tickwheel alone: a burst of Celery-target tasks pushed
 * onto a broker list, with the broker on tickwheel's Redis server and on another one.
 * The webhook cases (webhook-burst, webhook-steady) run tickwheel alone (BullMQ has no HTTP
 * delivery): a node delivering signed webhooks to a local keep-alive server (webhook-cases.ts).
 * The `schedules` case (recurring schedules against BullMQ job schedulers) runs only when named:
 * `bun run bench schedules`; its table goes to its own block of BENCHMARKS.md.
 *
 * Flags:
 *   --runs N                 runs per case, system and setting (default: the case's own: 2 for
 *                            enqueue, memory and steady, 3 for burst, 1 for celery; medians quoted)
 *   --steady-seconds S       length of each steady-rate run (default 20; the issue's figure is 60)
 *   --rates a,b,c            steady rates per second (default 1000,5000,20000)
 *   --systems a,b            tickwheel,bullmq (default both)
 *   --concurrency a,b        the equal settings, both systems (default 100,1000)
 *   --no-extras              skip the rows of a system alone (tickwheel at 64, at 5,000, with
 *                            TICKWHEEL_CLAIM_DEPTH=4 at the equal settings, and steady and
 *                            webhook steady with TICKWHEEL_REALTIME_PRIORITY=10)
 *   --scale F                multiply every task count by F (quick trial runs)
 *   --webhook-concurrency N  the webhook cases' TICKWHEEL_CONCURRENCY (deliveries in flight; default 256)
 *   --webhook-rate N         the webhook steady case's rate per second (default 1000)
 *   --schedules N            schedules in the `schedules` case (default 100000 every minute, with a
 *                            tenth every 6 s beside it): same as --scale N/100000 for that case
 *   --schedules-seconds S    measured window of the `schedules` case after the first round (default 30)
 *   --write / --no-write     write BENCHMARKS.md (default: only when every case ran at scale 1)
 */
import { parseArgs } from "node:util";
import { systems as makeSystems, type SystemName } from "./bench/systems.ts";
import { writeMarkedBlock } from "./bench/marked-block.ts";
import { machineInfo } from "./bench/process-stats.ts";
import { renderReport } from "./bench/report.ts";
import { DEFAULT_CONCURRENCY } from "../src/config/defaults.ts";
import type { BenchCase, BenchContext, CaseReport, Setting } from "./bench/suite.ts";
import { enqueueBench } from "./bench/run/enqueue.ts";
import { memoryBench } from "./bench/run/memory.ts";
import { burstBench } from "./bench/run/burst.ts";
import { steadyBench } from "./bench/run/steady.ts";
import { celeryBench } from "./bench/run/celery.ts";
import { celeryPushBench } from "./bench/run/celery-push.ts";
import { webhookBurstBench, webhookSteadyBench } from "./bench/run/webhook.ts";
import { schedulesBench } from "./bench/run/schedules.ts";
import { scaleOutBench } from "./bench/run/scale-out.ts";

/** The cases, in run order: one line each (scripts/bench/run/<case>.ts runs it and renders its rows). */
const CASES: Record<string, BenchCase> = {
  enqueue: enqueueBench,
  memory: memoryBench,
  burst: burstBench,
  steady: steadyBench,
  celery: celeryBench,
  "celery-push": celeryPushBench,
  "webhook-burst": webhookBurstBench,
  "webhook-steady": webhookSteadyBench,
  schedules: schedulesBench,
  // Runs only when named (1 vs 2 nodes, 8 vs 32 shards, one Redis vs a 3-master cluster); own block.
  "scale-out": scaleOutBench,
};

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    runs: { type: "string" },
    "steady-seconds": { type: "string", default: "20" },
    rates: { type: "string", default: "1000,5000,20000" },
    systems: { type: "string", default: "tickwheel,bullmq" },
    concurrency: { type: "string", default: "100,1000" },
    "no-extras": { type: "boolean" },
    "webhook-concurrency": { type: "string", default: "256" },
    "webhook-rate": { type: "string", default: "1000" },
    // No defaults here: the schedules case derives them from --scale (run/schedules.ts).
    schedules: { type: "string" },
    "schedules-seconds": { type: "string" },
    scale: { type: "string", default: "1" },
    write: { type: "boolean" },
    "no-write": { type: "boolean" },
  },
});

for (const name of positionals) {
  if (!(name in CASES)) {
    console.error(`unknown case "${name}": expected any of ${Object.keys(CASES).join(", ")}`);
    process.exit(2);
  }
}
const everyCase = Object.keys(CASES).filter((name) => !CASES[name]!.onlyWhenNamed);
const caseNames = positionals.length ? positionals : everyCase;
const scale = Number(values.scale);
const systemNames = values.systems!.split(",") as SystemName[];
for (const name of systemNames) {
  if (name !== "tickwheel" && name !== "bullmq") {
    console.error(`unknown system "${name}" in --systems: expected tickwheel, bullmq`);
    process.exit(2);
  }
}
const equal = values.concurrency!.split(",").map(Number);
if (equal.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error(`--concurrency: expected positive integers separated by commas, got "${values.concurrency}"`);
  process.exit(2);
}
const settings: Setting[] = [
  ...equal.map((n) => ({ label: `both at concurrency ${n.toLocaleString("en-US")}`, concurrency: { tickwheel: n, bullmq: n } })),
  ...(values["no-extras"]
    ? []
    : [
        { label: `tickwheel at its default concurrency (${DEFAULT_CONCURRENCY})`, concurrency: { tickwheel: DEFAULT_CONCURRENCY } },
        // Its best burst figure: shown, named, never the headline.
        { label: "extra: tickwheel at concurrency 5,000", concurrency: { tickwheel: 5000 }, extra: true, cases: ["burst"] },
        // Claims overlapping starts (not the default yet: BENCHMARKS.md, issue 16), at the equal settings.
        ...equal.map((n) => ({
          label: `extra: tickwheel at concurrency ${n.toLocaleString("en-US")} with TICKWHEEL_CLAIM_DEPTH=4`,
          concurrency: { tickwheel: n },
          tickwheelEnv: { TICKWHEEL_CLAIM_DEPTH: "4" },
          extra: true,
          cases: ["burst"],
        })),
        // The node's threads under SCHED_FIFO (off by default: a decision about the machine; README,
        // "Operations"), at the larger equal setting: what is left of the tail when the node never
        // waits for a core.
        {
          label: `extra: tickwheel at concurrency ${equal[equal.length - 1]!.toLocaleString("en-US")} with TICKWHEEL_REALTIME_PRIORITY=10`,
          concurrency: { tickwheel: equal[equal.length - 1]! },
          tickwheelEnv: { TICKWHEEL_REALTIME_PRIORITY: "10" },
          extra: true,
          cases: ["steady"],
        },
      ]),
];
// BENCH_TICKWHEEL_ENV='{"TICKWHEEL_CLAIM_BATCH":"500"}' tries other node settings.
const tickwheelEnv: Record<string, string> = JSON.parse(process.env.BENCH_TICKWHEEL_ENV ?? "{}");

const began = Date.now();
const ctx: BenchContext = {
  systems: makeSystems({ tickwheelEnv }),
  systemNames,
  settings,
  runs: (defaultRuns) => (values.runs ? Number(values.runs) : defaultRuns),
  scale,
  steadySeconds: Number(values["steady-seconds"]),
  rates: values.rates!.split(",").map(Number),
  flags: values,
  log: (line) => console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`),
};

const reports: CaseReport[] = [];
for (const name of caseNames) reports.push(await CASES[name]!.run(ctx));

const command = ["bun", "run", "bench", ...Bun.argv.slice(2)].join(" ");
const report = renderReport({ reports, machine: machineInfo(), command, settings, durationS: Math.round((Date.now() - began) / 1000) });
console.log("\n" + report);

const fullRun = everyCase.every((name) => caseNames.includes(name)) && scale === 1 && systemNames.length === 2 && !values["no-extras"];
if (values.write || (fullRun && !values["no-write"])) {
  const path = writeMarkedBlock("results", report);
  ctx.log(`wrote ${path}`);
}
