// Recurring schedules end to end on real node processes and a real redis-server: no leader with
// 5 nodes and one kill -9, misfire after every node was down, overlap skip, and pause / resume /
// update / delete while an occurrence runs. Handlers record every start and finish in Redis
// (test/fixtures/engine-tasks.ts), so runs are counted from outside the processes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { Client } from "../../src/client/client.ts";
import { parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const TASKS = join(ROOT, "test/fixtures/engine-tasks.ts");
let redis: RedisProcess;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis({ appendonly: true, appendfsync: "always" });
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.cleanup();
});

interface Run {
  id: string;
  schedule: string;
  atMs: number;
  node: string;
  startMs: number;
  endMs: number | null;
}

/** Every recorded start of an occurrence of `schedule`, with its finish when there is one. */
async function runsOf(prefix: string, schedule: string): Promise<Run[]> {
  const parse = (line: string) => {
    const [id, node, attempt, at] = line.split("|");
    return { id: id!, node: node!, attempt: Number(attempt), at: Number(at) };
  };
  const starts = (await raw.lrange(`${prefix}:starts`, 0, -1)).map(parse);
  const finishes = (await raw.lrange(`${prefix}:finishes`, 0, -1)).map(parse);
  const runs: Run[] = [];
  for (const start of starts) {
    const ref = parseOccurrenceId(start.id);
    if (!ref || ref.schedule !== schedule) continue;
    const finish = finishes.find((f) => f.id === start.id && f.attempt === start.attempt);
    runs.push({ id: start.id, schedule, atMs: ref.atMs, node: start.node, startMs: start.at, endMs: finish?.at ?? null });
  }
  return runs.sort((a, b) => a.startMs - b.startMs);
}

async function http<T>(node: NodeProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface ScheduleBody {
  name: string;
  shard: number;
  paused: boolean;
  next: string[];
  nextDueAt: number | null;
  lastOccurrence: { id: string; state: string } | null;
}

const FAST_LEASES = { TICKWHEEL_VISIBILITY_MS: "2000", TICKWHEEL_LEASE_TTL_MS: "1500", TICKWHEEL_LEASE_RENEW_MS: "500" };

describe("recurring schedules on real nodes", () => {
  test("5 nodes, every 200ms for 10 s, the schedule's owner kill -9-ed midway: each occurrence ran once, none early", async () => {
    const prefix = randomPrefix("beat");
    // 10 shards over 5 nodes: each node owns exactly 2 (assignment caps a node at ceil(shards / nodes)).
    const env = { ...FAST_LEASES, TICKWHEEL_SHARDS: "10" };
    const nodes = await Promise.all([0, 1, 2, 3, 4].map((i) => startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: `n${i}`, env })));
    try {
      await waitFor(
        async () => {
          const { body } = await http<{ shards: { owner: string | null }[] }>(nodes[0]!, "GET", "/admin/shards");
          return body.shards.every((s) => s.owner !== null) && new Set(body.shards.map((s) => s.owner!.split(":")[0])).size === 5;
        },
        { timeoutMs: 30_000, intervalMs: 200, message: "10 shards spread over the 5 nodes" },
      );
      const putAt = Date.now();
      const endAt = putAt + 10_000;
      const put = await http<{ created: boolean; schedule: ScheduleBody }>(nodes[1]!, "PUT", "/v1/schedules/beat", {
        every: "200ms",
        task: { name: "rec.noop" },
        misfire: "all",
        endAt,
      });
      expect(put.status).toBe(201);
      // Occurrences start after the write (the node's clock at the PUT): those due while the request
      // was on its way may or may not exist; those after its answer must all run.
      const putDoneAt = Date.now();
      const { body: shards } = await http<{ shards: { shard: number; owner: string | null }[] }>(nodes[0]!, "GET", "/admin/shards");
      const ownerId = shards.shards.find((s) => s.shard === put.body.schedule.shard)!.owner!.split(":")[0]!;
      const owner = nodes.find((n) => n.nodeId === ownerId)!;
      await Bun.sleep(Math.max(0, putAt + 5_000 - Date.now()));
      owner.kill9();
      await owner.proc.exited;
      const killedAt = Date.now();

      const expected: number[] = [];
      for (let at = Math.ceil((putDoneAt + 1) / 200) * 200; at < endAt; at += 200) expected.push(at);
      await waitFor(
        async () => {
          const ran = new Set((await runsOf(prefix, "beat")).map((r) => r.atMs));
          return expected.every((at) => ran.has(at));
        },
        { timeoutMs: 40_000, intervalMs: 250, message: "every occurrence of the 10 s to run" },
      ).catch(async (error) => {
        const ran = new Set((await runsOf(prefix, "beat")).map((r) => r.atMs));
        const missing = expected.filter((at) => !ran.has(at)).map((at) => at - putAt);
        throw new Error(`${(error as Error).message}: missing (ms after the PUT) ${missing.join(", ")}; killed at ${killedAt - putAt}\n${owner.output()}`);
      });
      await Bun.sleep(2_500); // a double would show up after the visibility deadline
      const runs = await runsOf(prefix, "beat");
      const counts = new Map<number, Run[]>();
      for (const run of runs) counts.set(run.atMs, [...(counts.get(run.atMs) ?? []), run]);
      // None outside the schedule's span, none early.
      for (const run of runs) {
        expect(run.atMs).toBeGreaterThan(putAt);
        expect(run.atMs).toBeLessThan(endAt);
        expect(run.startMs).toBeGreaterThanOrEqual(run.atMs);
      }
      // Every occurrence ran; twice only the one in flight on the killed node when it died.
      const doubles = [...counts.values()].filter((list) => list.length > 1);
      for (const at of expected) expect(counts.get(at)?.length ?? 0).toBeGreaterThanOrEqual(1);
      expect(doubles.length).toBeLessThanOrEqual(1);
      for (const list of doubles) {
        expect(list.length).toBe(2);
        expect(list[0]!.node).toBe(ownerId);
        expect(Math.abs(list[0]!.startMs - killedAt)).toBeLessThan(1_000);
      }
      // The occurrences really moved to another node after the kill.
      expect(runs.some((r) => r.startMs > killedAt && r.node !== ownerId)).toBe(true);
    } finally {
      for (const node of nodes) node.kill9();
    }
  }, 120_000);

  test("misfire: every node down for 5 occurrences, then up: skip runs 0, once 1, all 5", async () => {
    const prefix = randomPrefix("misfire");
    const period = 3_000;
    let node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "m1" });
    try {
      for (const policy of ["skip", "once", "all"]) {
        const put = await http<unknown>(node, "PUT", `/v1/schedules/mf-${policy}`, { every: period, task: { name: "rec.noop" }, misfire: policy });
        expect(put.status).toBe(201);
      }
      // Wait for an occurrence that ran for all three, then stop every node right after it.
      let lastRun = 0;
      await waitFor(
        async () => {
          const per = await Promise.all(["skip", "once", "all"].map((p) => runsOf(prefix, `mf-${p}`)));
          const common = per.map((runs) => new Set(runs.map((r) => r.atMs)));
          const shared = [...common[0]!].filter((at) => common[1]!.has(at) && common[2]!.has(at));
          lastRun = Math.max(0, ...shared);
          return lastRun > 0;
        },
        { timeoutMs: 20_000, intervalMs: 50, message: "an occurrence of all three schedules" },
      );
      expect(await node.terminate()).toBe(0);
      const missed = [1, 2, 3, 4, 5].map((k) => lastRun + k * period);
      // Up again 1.3 s after the fifth missed time: it is more than the 1 s grace late, and the
      // next occurrence (1.7 s later) comes after the node is up.
      await Bun.sleep(Math.max(0, missed[4]! + 1_300 - Date.now()));
      node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "m2" });
      const next = lastRun + 6 * period;
      await waitFor(
        async () => {
          const per = await Promise.all(["skip", "once", "all"].map((p) => runsOf(prefix, `mf-${p}`)));
          return per.every((runs) => runs.some((r) => r.atMs >= next));
        },
        { timeoutMs: 20_000, intervalMs: 100, message: "the schedules to go on after the restart" },
      );
      const ranMissed = async (policy: string) => (await runsOf(prefix, `mf-${policy}`)).filter((r) => missed.includes(r.atMs));
      expect((await ranMissed("skip")).length).toBe(0);
      expect((await ranMissed("once")).length).toBe(1);
      const all = await ranMissed("all");
      expect(all.map((r) => r.atMs).sort()).toEqual(missed);
      // And every policy goes on after the gap, once per occurrence. (Which occurrence comes first
      // depends on how long the node took to start: on a loaded machine the one after the gap can
      // be more than the grace late and count as missed too.)
      for (const policy of ["skip", "once", "all"]) {
        const after = (await runsOf(prefix, `mf-${policy}`)).filter((r) => r.atMs > missed[4]!).map((r) => r.atMs);
        expect(after.length).toBeGreaterThanOrEqual(1);
        expect(new Set(after).size).toBe(after.length);
      }
    } finally {
      node.kill9();
    }
  }, 90_000);

  test("overlap skip: a 300 ms handler on a 100 ms schedule never overlaps itself", async () => {
    const prefix = randomPrefix("overlap");
    const node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "o1" });
    try {
      const put = await http<unknown>(node, "PUT", "/v1/schedules/slow", { every: "100ms", task: { name: "rec.sleep", args: { ms: 300 } }, overlap: "skip" });
      expect(put.status).toBe(201);
      await waitFor(async () => (await runsOf(prefix, "slow")).filter((r) => r.endMs !== null).length >= 8, {
        timeoutMs: 20_000,
        intervalMs: 100,
        message: "8 runs of the slow schedule",
      });
      expect((await http<unknown>(node, "DELETE", "/v1/schedules/slow")).status).toBe(200);
      await waitFor(async () => (await runsOf(prefix, "slow")).every((r) => r.endMs !== null), { timeoutMs: 5_000, message: "the last run to end" });
      const runs = await runsOf(prefix, "slow");
      for (let i = 1; i < runs.length; i++) {
        expect(runs[i]!.startMs).toBeGreaterThanOrEqual(runs[i - 1]!.endMs!);
        expect(runs[i]!.startMs).toBeGreaterThanOrEqual(runs[i]!.atMs);
      }
      // Without the rule they would overlap: consecutive occurrence times are closer than a run.
      expect(runs[1]!.atMs - runs[0]!.atMs).toBeLessThan(1_000);
    } finally {
      node.kill9();
    }
  }, 60_000);

  test("pause, resume, update and delete while an occurrence runs", async () => {
    const prefix = randomPrefix("change");
    const node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "c1" });
    const client = new Client({ redisUrl: redis.url, prefix });
    const pendingOf = async (name: string) =>
      (await client.list({ state: "scheduled", limit: 500 })).tasks.filter((t) => parseOccurrenceId(t.id)?.schedule === name);
    const running = async (name: string) => (await runsOf(prefix, name)).find((r) => r.endMs === null) ?? null;
    try {
      expect((await http<unknown>(node, "PUT", "/v1/schedules/job", { every: "1s", task: { name: "rec.sleep", args: { ms: 600 } } })).status).toBe(201);

      // Pause while one runs: it finishes, nothing stays planted, nothing new starts.
      await waitFor(async () => (await running("job")) !== null, { timeoutMs: 10_000, intervalMs: 20, message: "an occurrence to run" });
      const inFlight = (await running("job"))!;
      const paused = await http<ScheduleBody>(node, "POST", "/v1/schedules/job/pause");
      expect(paused.status).toBe(200);
      expect(paused.body.paused).toBe(true);
      expect(paused.body.next).toEqual([]);
      expect(await pendingOf("job")).toEqual([]);
      await waitFor(async () => (await client.get(inFlight.id))?.state === "succeeded", { timeoutMs: 5_000, message: "the running occurrence to finish" });
      const startsAtPause = (await runsOf(prefix, "job")).length;
      await Bun.sleep(2_500);
      expect((await runsOf(prefix, "job")).length).toBe(startsAtPause);

      // Resume: misfire once runs one of the missed occurrences, then it goes on.
      const resumedAt = Date.now();
      const resumed = await http<ScheduleBody>(node, "POST", "/v1/schedules/job/resume");
      expect(resumed.body.paused).toBe(false);
      expect(resumed.body.next.length).toBe(5);
      await waitFor(async () => (await runsOf(prefix, "job")).filter((r) => r.startMs >= resumedAt).length >= 2, {
        timeoutMs: 10_000,
        message: "runs after the resume",
      });
      const afterResume = (await runsOf(prefix, "job")).filter((r) => r.startMs >= resumedAt);
      const lateOnes = afterResume.filter((r) => r.atMs < resumedAt - 1_000);
      expect(lateOnes.length).toBe(1);

      // Update while one runs: the running one keeps its args, the next ones get the new.
      await waitFor(async () => (await running("job")) !== null, { timeoutMs: 10_000, intervalMs: 20, message: "an occurrence to run" });
      const oldRun = (await running("job"))!;
      const updatedAt = Date.now();
      const updated = await http<{ created: boolean }>(node, "PUT", "/v1/schedules/job", { every: "1s", task: { name: "rec.sleep", args: { ms: 100 } } });
      expect(updated.status).toBe(200);
      expect(updated.body.created).toBe(false);
      await waitFor(async () => (await client.get(oldRun.id))?.state === "succeeded", { timeoutMs: 5_000, message: "the old run to finish" });
      expect((await client.get(oldRun.id))?.result).toEqual({ sleptMs: 600 });
      await waitFor(async () => (await runsOf(prefix, "job")).some((r) => r.atMs > updatedAt && r.endMs !== null), { timeoutMs: 10_000, message: "a run after the update" });
      const newRun = (await runsOf(prefix, "job")).find((r) => r.atMs > updatedAt && r.endMs !== null)!;
      // The handler recorded its finish; the node writes the final record a few ms later (batched).
      await waitFor(async () => (await client.get(newRun.id))?.state === "succeeded", { timeoutMs: 5_000, message: "the new run's final record" });
      expect((await client.get(newRun.id))?.result).toEqual({ sleptMs: 100 });
      const view = await client.get(newRun.id);
      expect(view?.schedule).toEqual({ name: "job", occurrenceAt: newRun.atMs });

      // Delete while one runs (a long one, so it is running when the delete lands).
      await http<unknown>(node, "PUT", "/v1/schedules/job", { every: "1s", task: { name: "rec.sleep", args: { ms: 800 } } });
      await waitFor(async () => {
        const run = await running("job");
        return run !== null && (await client.get(run.id))?.result === undefined && Date.now() - run.startMs < 300;
      }, { timeoutMs: 10_000, intervalMs: 20, message: "a long occurrence to run" });
      const lastRun = (await running("job"))!;
      expect((await http<unknown>(node, "DELETE", "/v1/schedules/job")).status).toBe(200);
      expect(await pendingOf("job")).toEqual([]);
      await waitFor(async () => (await client.get(lastRun.id))?.state === "succeeded", { timeoutMs: 5_000, message: "the running occurrence to finish" });
      const startsAtDelete = (await runsOf(prefix, "job")).length;
      await Bun.sleep(2_500);
      expect((await runsOf(prefix, "job")).length).toBe(startsAtDelete);
      expect((await http<unknown>(node, "GET", "/v1/schedules/job")).status).toBe(404);
    } finally {
      node.kill9();
      await client.close();
    }
  }, 90_000);
});
