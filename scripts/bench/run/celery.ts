/**
 * Case 5, Celery as an anchor: what teams coming from Celery meet there,
 * measured with Debian's python3-celery on a private redis-server, beside
 * tickwheel doing the same work (scripts/bench/celery_bench.py is the Celery
 * side). Skipped with one line when Celery is not importable.
 *
 * - RSS of a worker holding 10,000 and 50,000 tasks scheduled a week out with
 *   `countdown` (Celery's worker takes ETA tasks into its main process),
 *   against a node's RSS and the Redis bytes per task for the same tasks;
 * - a countdown (10 s) longer than visibility_timeout (5 s), with a second
 *   worker started 6 s in: runs per task;
 * - lateness of countdown tasks at 400/s with delays of 0.1-3 s.
 */
import { join } from "node:path";
import { memoryCase, steadyCase, withRedis, type MemoryResult, type SteadyResult } from "../cases.ts";
import { int, ms, runLine, type BenchCase, type BenchContext } from "../suite.ts";

const PYTHON = process.env.BENCH_CELERY_PYTHON ?? "/usr/bin/python3";
const SCRIPT = join(import.meta.dir, "..", "celery_bench.py");
const WEEK_MS = 7 * 86_400_000;
const RATE = 400;
const VISIBILITY_TASKS = 200;

interface CeleryRss {
  tasks: number;
  held: number;
  allReceived: boolean;
  rssIdleMB: number;
  rssMB: number;
  rssMainMB: number;
  processes: number;
  kibPerTask: number;
  redisBytesPerTask: number;
}

interface CeleryVisibility {
  tasks: number;
  runs: number;
  runsPerTask: Record<string, number>;
}

interface CeleryLateness {
  added: number;
  notStarted: number;
  early: number;
  lateness: { p50: number | null; p90: number | null; p99: number | null; p999: number | null; max: number | null };
  workerCpu: number;
}

/** Why Celery cannot run here, or null when it can. */
function celeryMissing(): string | null {
  try {
    const probe = Bun.spawnSync([PYTHON, "-c", "import celery, kombu, redis; print(celery.__version__, kombu.__version__)"]);
    if (probe.exitCode === 0) return null;
    return probe.stderr.toString().trim().split("\n").pop() ?? `exit ${probe.exitCode}`;
  } catch (error) {
    return String(error);
  }
}

function celeryVersions(): string {
  const probe = Bun.spawnSync([PYTHON, "-c", "import celery, kombu; print(f'Celery {celery.__version__}, kombu {kombu.__version__}')"]);
  return probe.stdout.toString().trim();
}

/** Runs one mode of celery_bench.py on a fresh private Redis; its last stdout line is JSON. */
function celery<T>(args: (redisUrl: string) => string[]): Promise<T> {
  return withRedis(async (redis) => {
    const proc = Bun.spawn([PYTHON, SCRIPT, ...args(`${redis.url}/0`)], { stdout: "pipe", stderr: "inherit" });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    if (code !== 0) throw new Error(`celery_bench.py ${args("URL").join(" ")} exited with ${code}`);
    return JSON.parse(out.trim().split("\n").pop()!) as T;
  });
}

/** tickwheel's side of the visibility test: two nodes (the second 6 s in), tasks 10 s out; runs counted. */
function tickwheelVisibility(ctx: BenchContext): Promise<{ tasks: number; runs: number; pending: number }> {
  const system = ctx.systems.tickwheel;
  return withRedis(async (redis) => {
    const env = { TICKWHEEL_VISIBILITY_MS: "5000" };
    const first = await system.startRunner(redis.url, VISIBILITY_TASKS, { env });
    const producer = await system.openProducer(redis.url);
    let second: Awaited<ReturnType<typeof system.startRunner>> | null = null;
    try {
      const sentAt = Date.now();
      await producer.add(Array.from({ length: VISIBILITY_TASKS }, (_, i) => ({ dueMs: sentAt + 10_000, userId: i })));
      await Bun.sleep(Math.max(0, sentAt + 6_000 - Date.now()));
      second = await system.startRunner(redis.url, VISIBILITY_TASKS, { env });
      await Bun.sleep(Math.max(0, sentAt + 25_000 - Date.now()));
      const runs = (await first.report()).started + (await second.report()).started;
      return { tasks: VISIBILITY_TASKS, runs, pending: await producer.pendingCount() };
    } finally {
      await producer.close();
      await first.stop();
      await second?.stop();
    }
  });
}

export const celeryBench: BenchCase = {
  async run(ctx) {
    const missing = celeryMissing();
    if (missing !== null) {
      const line = `Celery case skipped: ${PYTHON} cannot import celery, kombu and redis (${missing}); on Debian: apt-get install python3-celery python3-redis.`;
      ctx.log(line);
      return { rows: [], sections: [`### Celery as an anchor\n\n${line}`], runLines: [], runsNote: "celery skipped" };
    }
    const counts = [10_000, 50_000].map((n) => Math.round(n * ctx.scale));
    const seconds = ctx.steadySeconds;

    ctx.log(`celery: worker RSS with ${counts.join(" and ")} tasks a week out`);
    const celeryRss = await celery<CeleryRss[]>((url) => ["rss", url, counts.join(",")]);
    const tickwheelRss: MemoryResult[] = [];
    for (const count of counts) tickwheelRss.push(await memoryCase(ctx.systems.tickwheel, count, { fromMs: WEEK_MS, spreadMs: count }));
    ctx.log(`celery: ${celeryRss.map((r) => `${r.tasks}: ${r.rssMB} MB`).join(", ")}; tickwheel: ${tickwheelRss.map((r) => `${r.rssPendingMB.toFixed(1)} MB`).join(", ")}`);

    ctx.log("celery: countdown 10 s past a visibility_timeout of 5 s, second worker 6 s in");
    const celeryVisibility = await celery<CeleryVisibility>((url) => ["visibility", url, String(VISIBILITY_TASKS)]);
    const tickwheelVis = await tickwheelVisibility(ctx);
    ctx.log(`celery: ${celeryVisibility.runs} runs of ${celeryVisibility.tasks} tasks; tickwheel: ${tickwheelVis.runs}`);

    ctx.log(`celery: lateness at ${RATE}/s for ${seconds} s`);
    const celeryLate = await celery<CeleryLateness>((url) => ["lateness", url, String(RATE), String(seconds)]);
    const tickwheelLate: SteadyResult = await steadyCase(ctx.systems.tickwheel, RATE, seconds, {});
    ctx.log(`celery: p99 ${celeryLate.lateness.p99} ms; tickwheel p99 ${tickwheelLate.lateness.p99} ms`);

    const late = (l: { p50: number | null; p90: number | null; p99: number | null; p999: number | null; max: number | null }) =>
      [l.p50, l.p90, l.p99, l.p999, l.max].map((v) => ms(v ?? NaN)).join(" / ");
    const histogram = Object.entries(celeryVisibility.runsPerTask).map(([runs, tasks]) => `${int(tasks)} ran ${runs}×`).join(", ");
    const rows: string[] = [];
    counts.forEach((count, i) => {
      const c = celeryRss[i]!;
      const t = tickwheelRss[i]!;
      rows.push(
        `| RSS with ${int(count)} tasks a week out, idle → holding (MB) | node ${ms(round1(t.rssIdleMB))} → ${ms(round1(t.rssPendingMB))} | worker ${ms(c.rssIdleMB)} → ${ms(c.rssMB)} (${c.processes} processes; main ${ms(c.rssMainMB)})${c.allReceived ? "" : `, only ${int(c.held)} taken`} |`,
        `| … per task (KiB) | ${perTaskKiB(t, count)} | ${ms(c.kibPerTask)} |`,
        `| … Redis used_memory per task (bytes) | ${int(t.bytesPerTask)} | ${int(c.redisBytesPerTask)} |`,
      );
    });
    rows.push(
      `| countdown 10 s, visibility_timeout 5 s, second worker 6 s in: runs of ${int(VISIBILITY_TASKS)} tasks | ${int(tickwheelVis.runs)}${tickwheelVis.pending ? ` (${int(tickwheelVis.pending)} still pending)` : " (each once)"} | ${int(celeryVisibility.runs)} (${histogram}) |`,
      `| lateness at ${RATE}/s for ${seconds} s, delay 0.1–3 s: p50 / p90 / p99 / p99.9 / max (ms) | ${late(tickwheelLate.lateness)} | ${late(celeryLate.lateness)}${celeryLate.notStarted ? ` (≥; ${int(celeryLate.notStarted)} not started)` : ""} |`,
      `| … started early / worker CPU (% of a core) | ${int(tickwheelLate.lateness.early)} / ${Math.round(tickwheelLate.workerCpu)} % | ${int(celeryLate.early)} / ${Math.round(celeryLate.workerCpu)} % |`,
    );
    const section = [
      `### Celery as an anchor (${celeryVersions()}, Debian's python3-celery, same private redis-server)`,
      "",
      "Celery worker with its defaults (prefork pool, one child per CPU, logging at WARNING), tasks sent with `apply_async(countdown=…)`; " +
        "RSS summed over the worker's processes. tickwheel: one node at its default concurrency (64), tasks scheduled with `runAt` at the same due times.",
      "",
      "| figure | tickwheel | Celery |",
      "|---|--:|--:|",
      ...rows,
    ].join("\n");
    return {
      rows: [],
      sections: [section],
      runLines: [
        ...celeryRss.map((r) => runLine(`celery rss ${r.tasks}`, r)),
        ...tickwheelRss.map((r, i) => runLine(`celery-anchor tickwheel rss ${counts[i]}`, r)),
        runLine("celery visibility", celeryVisibility),
        runLine("celery-anchor tickwheel visibility", tickwheelVis),
        runLine("celery lateness", celeryLate),
        runLine("celery-anchor tickwheel lateness", tickwheelLate),
      ],
      runsNote: "celery 1",
    };
  },
};

const round1 = (n: number) => Math.round(n * 10) / 10;
/** A node's RSS growth per task; within ±0.05 KiB (the noise of one RSS reading) it is flat. */
function perTaskKiB(result: MemoryResult, count: number): string {
  const kib = ((result.rssPendingMB - result.rssIdleMB) * 1024) / count;
  return Math.abs(kib) < 0.05 ? "0 (flat)" : ms(Math.round(kib * 100) / 100);
}
