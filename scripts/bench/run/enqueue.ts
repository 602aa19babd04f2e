/** Case 1: enqueue 200,000 tasks due in 1 h through each system's bulk API (no worker runs). */
import { enqueueCase, type EnqueueResult } from "../cases.ts";
import { check, int, median, pct, runLine, times, type BenchCase } from "../suite.ts";
import type { SystemName } from "../systems.ts";

export const enqueueBench: BenchCase = {
  async run(ctx) {
    const count = Math.round(200_000 * ctx.scale);
    const runs = ctx.runs(2);
    const results: Record<SystemName, EnqueueResult[]> = { tickwheel: [], bullmq: [] };
    for (let run = 1; run <= runs; run++) {
      for (const name of ctx.systemNames) {
        const result = await enqueueCase(ctx.systems[name], count);
        results[name].push(result);
        ctx.log(`enqueue ${name} run ${run}: ${Math.round(result.tasksPerSecond)} tasks/s`);
      }
    }
    const m = (name: SystemName, pick: (r: EnqueueResult) => number) => median(results[name].map(pick));
    const tw = m("tickwheel", (r) => r.tasksPerSecond);
    const bq = m("bullmq", (r) => r.tasksPerSecond);
    return {
      rows: [
        { caseLabel: `1 enqueue ${int(count)} due in 1 h`, metric: "tasks/s (bulk API)", tickwheel: int(tw), bullmq: int(bq), ratio: times(tw / bq), target: `≥ 8×${check(tw / bq >= 8)}` },
        {
          caseLabel: "",
          metric: "CPU producer / redis (% of a core)",
          tickwheel: `${pct(m("tickwheel", (r) => r.producerCpu))} / ${pct(m("tickwheel", (r) => r.redisCpu))}`,
          bullmq: `${pct(m("bullmq", (r) => r.producerCpu))} / ${pct(m("bullmq", (r) => r.redisCpu))}`,
          ratio: "",
          target: "",
        },
      ],
      sections: [],
      runLines: ctx.systemNames.flatMap((name) => results[name].map((r, i) => runLine(`enqueue ${name} #${i + 1}`, r))),
      runsNote: `enqueue ${runs}`,
    };
  },
};
