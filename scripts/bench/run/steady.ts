/**
 * Case 4: tasks added at a steady rate with delays of 0.1-3 s, lateness of
 * their starts, at each rate and in every concurrency setting that applies.
 */
import { steadyCase, type SteadyResult } from "../cases.ts";
import { check, cpuCell, int, median, ms, runLine, settingsFor, type BenchCase, type Row } from "../suite.ts";
import type { SystemName } from "../systems.ts";
import type { LatenessSummary } from "../protocol.ts";

/** The issue's p99 targets per rate (ms). */
const P99_TARGETS: Record<number, number> = { 1000: 2, 5000: 3, 20000: 6 };
const DRAIN_NOTE = "10 s after the last due time";

export const steadyBench: BenchCase = {
  async run(ctx) {
    const runs = ctx.runs(2);
    const rows: Row[] = [];
    const runLines: string[] = [];
    for (const rate of ctx.rates) {
      for (const { setting, systems } of settingsFor(ctx, "steady")) {
        const results: Record<SystemName, SteadyResult[]> = { tickwheel: [], bullmq: [] };
        for (let run = 1; run <= runs; run++) {
          for (const name of systems) {
            const result = await steadyCase(ctx.systems[name], rate, ctx.steadySeconds, { concurrency: setting.concurrency[name], env: name === "tickwheel" ? setting.tickwheelEnv : undefined });
            results[name].push(result);
            const l = result.lateness;
            ctx.log(`steady ${rate}/s ${setting.label}, ${name} run ${run}: p50 ${l.p50} p90 ${l.p90} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} early ${l.early}${result.notStarted ? ` (${result.notStarted} not started)` : ""}`);
          }
        }
        rows.push(...steadyRows(rate, ctx.steadySeconds, setting.label, results, systems));
        for (const name of systems) results[name].forEach((r, i) => runLines.push(runLine(`steady ${rate}/s ${setting.label}, ${name} #${i + 1}`, r)));
      }
    }
    return { rows, sections: [], runLines, runsNote: `steady ${runs}` };
  },
};

function steadyRows(rate: number, seconds: number, label: string, results: Record<SystemName, SteadyResult[]>, systems: SystemName[]): Row[] {
  const percentiles = (list: SteadyResult[], of: (r: SteadyResult) => LatenessSummary | null) => {
    const m = (pick: (l: LatenessSummary) => number | null) => median(list.map((r) => { const l = of(r); return l ? (pick(l) ?? NaN) : NaN; }));
    return [m((l) => l.p50), m((l) => l.p90), m((l) => l.p99), m((l) => l.p999), m((l) => l.max)].map(ms).join(" / ");
  };
  const summary = (list: SteadyResult[]) => {
    if (list.length === 0) return "–";
    const missing = median(list.map((r) => r.notStarted));
    return `${percentiles(list, (r) => r.lateness)}${missing > 0 ? ` (≥; ${int(missing)} not started ${DRAIN_NOTE})` : ""}`;
  };
  const floor = (list: SteadyResult[]) => (list.length === 0 || list.some((r) => r.floor === null) ? "–" : percentiles(list, (r) => r.floor));
  const p99 = median(results.tickwheel.map((r) => r.lateness.p99 ?? NaN));
  const target = P99_TARGETS[rate];
  const early = median(results.tickwheel.map((r) => r.lateness.early));
  const both = systems.length === 2;
  return [
    {
      caseLabel: `4 steady ${int(rate)}/s for ${seconds} s, delay 0.1–3 s, ${label}`,
      metric: "lateness p50 / p90 / p99 / p99.9 / max (ms)",
      tickwheel: summary(results.tickwheel),
      bullmq: summary(results.bullmq),
      ratio: "",
      target: target === undefined || !systems.includes("tickwheel") ? "" : `p99 ≤ ${target} ms${check(p99 <= target)}`,
    },
    {
      caseLabel: "",
      metric: "the machine's floor: a process that only keeps a 2-ms timer, beside the run, p50 / p90 / p99 / p99.9 / max (ms)",
      tickwheel: floor(results.tickwheel),
      bullmq: floor(results.bullmq),
      ratio: "",
      target: "",
    },
    { caseLabel: "", metric: "started early", tickwheel: int(early), bullmq: both ? int(median(results.bullmq.map((r) => r.lateness.early))) : "–", ratio: "", target: `0${check(early === 0)}` },
    { caseLabel: "", metric: "CPU node (worker) / redis, whole run (% of a core)", tickwheel: cpuCell(results.tickwheel), bullmq: cpuCell(results.bullmq), ratio: "", target: "" },
  ];
}
