/**
 * Case 9, tickwheel alone (no BullMQ counterpart): a burst of tasks with a
 * Celery target due at one instant T, handed to the Celery broker list by a
 * node (celery-case.ts measures; this renders), in both layouts: the broker
 * on tickwheel's own Redis server (finish + LPUSH in one script) and on
 * another redis-server (push, then finish). Named `celery-push` beside the
 * `celery` anchor case (Celery's own countdown behaviour, run/celery.ts).
 */
import { celeryBurstCase, type CeleryBurstResult, type CeleryLayout } from "../celery-case.ts";
import { check, int, median, ms, pct, runLine, type BenchCase, type Row } from "../suite.ts";

const CELERY_PUSH_CONCURRENCY = 5000;

const LAYOUTS: { layout: CeleryLayout; label: string }[] = [
  { layout: "same-server", label: "broker on tickwheel's Redis server (one script)" },
  { layout: "separate-broker", label: "broker on another redis-server (push, then finish)" },
];

export const celeryPushBench: BenchCase = {
  async run(ctx) {
    const count = Math.round(50_000 * ctx.scale);
    const runs = ctx.runs(3);
    // Pushes do not wait on a Celery worker, only on Redis: the pool bound is the in-flight
    // hand-offs, and the node runs at the bound the enqueue/burst cases used before issue 16.
    const concurrency = String(CELERY_PUSH_CONCURRENCY);
    const list: CeleryBurstResult[] = [];
    for (let run = 1; run <= runs; run++) {
      for (const { layout } of LAYOUTS) {
        const result = await celeryBurstCase(layout, count, concurrency);
        list.push(result);
        ctx.log(`celery-push ${layout} run ${run}: first push ${result.firstPushMs} ms, last ${result.lastPushMs} ms, ${Math.round(result.messagesPerSecond)} messages/s`);
      }
    }
    const rows: Row[] = [];
    for (const { layout, label } of LAYOUTS) {
      const of = list.filter((r) => r.layout === layout);
      const m = (pick: (r: CeleryBurstResult) => number) => median(of.map(pick));
      const first = m((r) => r.firstPushMs);
      const rate = m((r) => r.messagesPerSecond);
      rows.push({ caseLabel: `9 Celery hand-off, ${int(count)} due at T, ${label}`, metric: "first message on the list after T (ms)", tickwheel: ms(first), bullmq: "n/a", ratio: "", target: `≤ 5 ms${check(first <= 5)}` });
      rows.push({ caseLabel: "", metric: "messages pushed per second, first → last", tickwheel: int(rate), bullmq: "n/a", ratio: "", target: `≥ 50,000${check(rate >= 50_000)}` });
      rows.push({ caseLabel: "", metric: "last message after T (ms)", tickwheel: ms(m((r) => r.lastPushMs)), bullmq: "", ratio: "", target: "" });
      rows.push({ caseLabel: "", metric: "CPU node / redis, T → last message (% of a core)", tickwheel: `${pct(m((r) => r.nodeCpu))} / ${pct(m((r) => r.redisCpu))} (machine ${pct(m((r) => r.machineCpu))})`, bullmq: "", ratio: "", target: "" });
      rows.push({ caseLabel: "", metric: "CPU node / redis per 1,000 messages (ms)", tickwheel: `${m((r) => r.nodeCpuMsPer1000)} / ${m((r) => r.redisCpuMsPer1000)}`, bullmq: "", ratio: "", target: "" });
    }
    return {
      rows,
      sections: [],
      runLines: list.map((r, i) => runLine(`celery-push ${r.layout} #${Math.floor(i / LAYOUTS.length) + 1}`, r)),
      runsNote: `celery-push ${runs}`,
      settingsNote: `celery-push: TICKWHEEL_CONCURRENCY=${concurrency}, no Celery worker (messages counted on the broker list)`,
    };
  },
};
