/**
 * Cases 6 and 7, tickwheel alone (BullMQ has no HTTP delivery): a node
 * delivering signed webhooks to a local keep-alive server
 * (webhook-cases.ts measures; this renders). Flags: --webhook-concurrency
 * (the node's TICKWHEEL_CONCURRENCY, deliveries in flight; default 256) and
 * --webhook-rate (the steady case's rate per second; default 1000).
 */
import { webhookBurstCase, webhookSteadyCase, type WebhookBenchSettings, type WebhookBurstResult, type WebhookSteadyResult } from "../webhook-cases.ts";
import { check, int, median, ms, pct, runLine, type BenchCase, type BenchContext, type Row } from "../suite.ts";

const DRAIN_NOTE = "10 s after the last due time";

function settingsOf(ctx: BenchContext): WebhookBenchSettings {
  return { concurrency: Number(ctx.flags["webhook-concurrency"] ?? 256), nodeEnv: JSON.parse(process.env.BENCH_TICKWHEEL_ENV ?? "{}") as Record<string, string> };
}

function webhookCpu(list: { nodeCpu: number; receiverCpu: number; redisCpu: number; machineCpu: number }[]): string {
  const m = (pick: (r: (typeof list)[number]) => number) => median(list.map(pick));
  return `${pct(m((r) => r.nodeCpu))} / ${pct(m((r) => r.receiverCpu))} / ${pct(m((r) => r.redisCpu))} (machine ${pct(m((r) => r.machineCpu))})`;
}

export const webhookBurstBench: BenchCase = {
  async run(ctx) {
    const count = Math.round(50_000 * ctx.scale);
    const runs = ctx.runs(3);
    const settings = settingsOf(ctx);
    const list: WebhookBurstResult[] = [];
    for (let run = 1; run <= runs; run++) {
      const result = await webhookBurstCase(count, settings);
      list.push(result);
      ctx.log(`webhook burst run ${run}: first arrival ${result.firstArrivalMs} ms, last ${result.lastArrivalMs} ms, ${Math.round(result.deliveriesPerSecond)} deliveries/s`);
    }
    const m = (pick: (r: WebhookBurstResult) => number) => median(list.map(pick));
    const rate = m((r) => r.deliveriesPerSecond);
    return {
      rows: [
        { caseLabel: `6 webhook burst, ${int(count)} due at T, tickwheel at concurrency ${int(settings.concurrency)}`, metric: "first / median / last arrival after T (ms)", tickwheel: `${ms(m((r) => r.firstArrivalMs))} / ${ms(m((r) => r.medianArrivalMs))} / ${ms(m((r) => r.lastArrivalMs))}`, bullmq: "n/a", ratio: "", target: "" },
        { caseLabel: "", metric: "signed deliveries/s to a local keep-alive server, first → last arrival", tickwheel: int(rate), bullmq: "n/a", ratio: "", target: `≥ 10,000/s${check(rate >= 10_000)}` },
        { caseLabel: "", metric: "CPU node / receiver / redis, T → last arrival (% of a core)", tickwheel: webhookCpu(list), bullmq: "", ratio: "", target: "" },
      ],
      sections: [],
      runLines: list.map((r, i) => runLine(`webhook burst #${i + 1}`, r)),
      runsNote: `webhook-burst ${runs}`,
      settingsNote: `webhook cases: TICKWHEEL_CONCURRENCY=${settings.concurrency} (deliveries in flight), the receiver a Bun.serve process answering 204`,
    };
  },
};

/** The extra webhook steady row: the node's threads under SCHED_FIFO (README, "Operations"), as in case 4's extra row. */
const REALTIME_ENV = { TICKWHEEL_REALTIME_PRIORITY: "10" };

export const webhookSteadyBench: BenchCase = {
  async run(ctx) {
    const rate = Number(ctx.flags["webhook-rate"] ?? 1000);
    const runs = ctx.runs(3);
    const settings = settingsOf(ctx);
    const variants: { label: string; settings: WebhookBenchSettings; extra: boolean }[] = [
      { label: `tickwheel at concurrency ${int(settings.concurrency)}`, settings, extra: false },
    ];
    if (!ctx.flags["no-extras"]) {
      variants.push({
        label: `extra: tickwheel at concurrency ${int(settings.concurrency)} with TICKWHEEL_REALTIME_PRIORITY=10`,
        settings: { ...settings, nodeEnv: { ...settings.nodeEnv, ...REALTIME_ENV } },
        extra: true,
      });
    }
    const rows: Row[] = [];
    const runLines: string[] = [];
    for (const variant of variants) {
      const list: WebhookSteadyResult[] = [];
      for (let run = 1; run <= runs; run++) {
        const result = await webhookSteadyCase(rate, ctx.steadySeconds, variant.settings);
        list.push(result);
        const l = result.lateness;
        ctx.log(`webhook steady ${rate}/s${variant.extra ? " (extra)" : ""} run ${run}: arrival lateness p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max}${result.notArrived ? ` (${result.notArrived} not arrived)` : ""}`);
      }
      const m = (pick: (r: WebhookSteadyResult) => number | null) => median(list.map((r) => pick(r) ?? NaN));
      const p99 = m((r) => r.lateness.p99);
      const parts = [m((r) => r.lateness.p50), m((r) => r.lateness.p90), p99, m((r) => r.lateness.p999), m((r) => r.lateness.max)].map(ms);
      const missing = m((r) => r.notArrived);
      rows.push(
        {
          caseLabel: `7 webhook steady ${int(rate)}/s for ${ctx.steadySeconds} s, delay 0.1–3 s, ${variant.label}`,
          metric: "arrival − due at the receiver p50 / p90 / p99 / p99.9 / max (ms)",
          tickwheel: `${parts.join(" / ")}${missing > 0 ? ` (≥; ${int(missing)} not arrived ${DRAIN_NOTE})` : ""}`,
          bullmq: "n/a",
          ratio: "",
          target: `p99 ≤ 5 ms${check(p99 <= 5)}`,
        },
        { caseLabel: "", metric: "CPU node / receiver / redis, whole run (% of a core)", tickwheel: webhookCpu(list), bullmq: "", ratio: "", target: "" },
      );
      runLines.push(...list.map((r, i) => runLine(`webhook steady${variant.extra ? " extra" : ""} #${i + 1}`, r)));
    }
    return {
      rows,
      sections: [],
      runLines,
      runsNote: `webhook-steady ${runs}`,
      settingsNote: `webhook cases: TICKWHEEL_CONCURRENCY=${settings.concurrency} (deliveries in flight), the receiver a Bun.serve process answering 204`,
    };
  },
};
