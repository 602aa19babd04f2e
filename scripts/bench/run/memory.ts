/** Case 2: Redis bytes and worker RSS with 1,000,000 tasks pending, due 1-24 h out. */
import { memoryCase, type MemoryResult } from "../cases.ts";
import { check, cpuCell, int, median, ms, pct, runLine, type BenchCase } from "../suite.ts";
import type { SystemName } from "../systems.ts";

export const memoryBench: BenchCase = {
  async run(ctx) {
    const count = Math.round(1_000_000 * ctx.scale);
    const runs = ctx.runs(2);
    const results: Record<SystemName, MemoryResult[]> = { tickwheel: [], bullmq: [] };
    for (let run = 1; run <= runs; run++) {
      for (const name of ctx.systemNames) {
        const result = await memoryCase(ctx.systems[name], count);
        results[name].push(result);
        ctx.log(`memory ${name} run ${run}: ${result.bytesPerTask.toFixed(1)} B/task, RSS ${result.rssIdleMB.toFixed(1)} → ${result.rssPendingMB.toFixed(1)} MB`);
      }
    }
    const m = (name: SystemName, pick: (r: MemoryResult) => number) => median(results[name].map(pick));
    const tw = m("tickwheel", (r) => r.bytesPerTask);
    const bq = m("bullmq", (r) => r.bytesPerTask);
    const growth = m("tickwheel", (r) => r.rssPendingMB - r.rssIdleMB);
    const rss = (name: SystemName) => `${ms(m(name, (r) => r.rssIdleMB))} → ${ms(m(name, (r) => r.rssPendingMB))}`;
    return {
      rows: [
        { caseLabel: `2 memory, ${int(count)} pending`, metric: "Redis used_memory per task (bytes)", tickwheel: int(tw), bullmq: int(bq), ratio: pct((100 * tw) / bq), target: `≤ 40 %${check(tw / bq <= 0.4)}` },
        { caseLabel: "", metric: "node / worker RSS idle → pending (MB)", tickwheel: rss("tickwheel"), bullmq: rss("bullmq"), ratio: "", target: `flat, ≤ +10 MB${check(growth <= 10)}` },
        { caseLabel: "", metric: "CPU node (worker) / redis, while enqueueing (% of a core)", tickwheel: cpuCell(results.tickwheel), bullmq: cpuCell(results.bullmq), ratio: "", target: "" },
      ],
      sections: [],
      runLines: ctx.systemNames.flatMap((name) => results[name].map((r, i) => runLine(`memory ${name} #${i + 1}`, r))),
      runsNote: `memory ${runs}`,
    };
  },
};
