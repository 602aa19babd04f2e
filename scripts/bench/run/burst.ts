/**
 * Case 3: a burst of 100,000 tasks due at one instant T, in every concurrency
 * setting (both systems at the same concurrency first; a system's own better
 * setting only as an extra, named row).
 */
import { burstCase, type BurstResult } from "../cases.ts";
import { check, cpuCell, int, median, ms, runLine, settingsFor, times, type BenchCase, type Row } from "../suite.ts";
import type { SystemName } from "../systems.ts";

/** Time between starting the enqueue and T; enqueueing must end well before T (a busy machine needs ~5 s). */
const LEAD_MS: Record<SystemName, number> = { tickwheel: 10_000, bullmq: 15_000 };
/** The targets for the throughput ratio at equal concurrency. */
const RATIO_TARGETS: Record<number, number> = { 100: 6, 1000: 10 };
const FIRST_START_TARGET_MS = 2;

export const burstBench: BenchCase = {
  async run(ctx) {
    const count = Math.round(100_000 * ctx.scale);
    const runs = ctx.runs(3);
    const rows: Row[] = [];
    const runLines: string[] = [];
    for (const { setting, systems } of settingsFor(ctx, "burst")) {
      const results: Record<SystemName, BurstResult[]> = { tickwheel: [], bullmq: [] };
      for (let run = 1; run <= runs; run++) {
        for (const name of systems) {
          const result = await burstCase(ctx.systems[name], count, LEAD_MS[name], { concurrency: setting.concurrency[name], env: name === "tickwheel" ? setting.tickwheelEnv : undefined });
          results[name].push(result);
          ctx.log(`burst ${setting.label}, ${name} run ${run}: first ${result.firstStartMs} ms, median ${result.medianStartMs} ms, last completion ${result.lastCompletionMs} ms, ${Math.round(result.tasksPerSecond)} tasks/s`);
        }
      }
      const m = (name: SystemName, pick: (r: BurstResult) => number) => median(results[name].map(pick));
      const both = systems.length === 2;
      const first = m("tickwheel", (r) => r.firstStartMs);
      const tw = m("tickwheel", (r) => r.tasksPerSecond);
      const bq = m("bullmq", (r) => r.tasksPerSecond);
      const equal = both && setting.concurrency.tickwheel === setting.concurrency.bullmq ? setting.concurrency.tickwheel! : null;
      const ratioTarget = equal === null ? undefined : RATIO_TARGETS[equal];
      const early = m("tickwheel", (r) => r.early);
      rows.push(
        { caseLabel: `3 burst, ${int(count)} due at T, ${setting.label}`, metric: "first start after T (ms)", tickwheel: ms(first), bullmq: ms(m("bullmq", (r) => r.firstStartMs)), ratio: "", target: `≤ ${FIRST_START_TARGET_MS} ms${check(first <= FIRST_START_TARGET_MS)}` },
        { caseLabel: "", metric: "median start after T (ms)", tickwheel: ms(m("tickwheel", (r) => r.medianStartMs)), bullmq: ms(m("bullmq", (r) => r.medianStartMs)), ratio: "", target: "" },
        {
          caseLabel: "",
          metric: "last start / last completion after T (ms)",
          tickwheel: `${ms(m("tickwheel", (r) => r.lastStartMs))} / ${ms(m("tickwheel", (r) => r.lastCompletionMs))}`,
          bullmq: both ? `${ms(m("bullmq", (r) => r.lastStartMs))} / ${ms(m("bullmq", (r) => r.lastCompletionMs))}` : "–",
          ratio: "",
          target: "",
        },
        {
          caseLabel: "",
          metric: "throughput, first start → last completion (tasks/s)",
          tickwheel: int(tw),
          bullmq: int(bq),
          ratio: both ? times(tw / bq) : "",
          target: ratioTarget === undefined ? "" : `≥ ${ratioTarget}×${check(tw / bq >= ratioTarget)}`,
        },
        { caseLabel: "", metric: "started early", tickwheel: int(early), bullmq: int(m("bullmq", (r) => r.early)), ratio: "", target: `0${check(early === 0)}` },
        { caseLabel: "", metric: "CPU node (worker) / redis, T → last completion (% of a core)", tickwheel: cpuCell(results.tickwheel), bullmq: cpuCell(results.bullmq), ratio: "", target: "" },
      );
      for (const name of systems) results[name].forEach((r, i) => runLines.push(runLine(`burst ${setting.label}, ${name} #${i + 1}`, r)));
    }
    return { rows, sections: [], runLines, runsNote: `burst ${runs}` };
  },
};
