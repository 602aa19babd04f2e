// kill -9 of a node with tasks in flight: a restarted node finishes them, nothing is lost.
// And SIGTERM: the node stops claiming, finishes in-flight work, releases its leases, exits 0.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess } from "../helpers/node.ts";
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

async function startsOf(prefix: string): Promise<{ id: string; node: string; attempt: number; at: number }[]> {
  return (await raw.lrange(`${prefix}:starts`, 0, -1)).map((line) => {
    const [id, node, attempt, at] = line.split("|");
    return { id: id!, node: node!, attempt: Number(attempt), at: Number(at) };
  });
}

describe("crash recovery", () => {
  test("kill -9 with tasks in flight: a restarted node finishes them", async () => {
    const prefix = randomPrefix("crash");
    const env = { TICKWHEEL_VISIBILITY_MS: "2000", TICKWHEEL_LEASE_TTL_MS: "1500", TICKWHEEL_LEASE_RENEW_MS: "500" };
    const first = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "first", env });
    const client = new Client({ redisUrl: redis.url, prefix });
    try {
      const scheduled = await client.scheduleMany(
        Array.from({ length: 30 }, (_, i) => ({ task: "rec.sleep", args: { ms: 3000 }, options: { delay: 100 + i * 5 } })),
      );
      const ids = scheduled.map((s) => (s as { id: string }).id);
      // All 30 start on the first node and are still running when it dies.
      await waitFor(async () => (await startsOf(prefix)).length >= 30, { timeoutMs: 10_000, message: "30 tasks in flight" });
      first.kill9();
      await first.proc.exited;
      const inFlightStates = await Promise.all(ids.map((id) => client.get(id)));
      expect(inFlightStates.every((t) => t?.state === "running")).toBe(true);

      const second = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "second", env });
      try {
        await waitFor(async () => (await Promise.all(ids.map((id) => client.get(id)))).every((t) => t?.state === "succeeded"), {
          timeoutMs: 30_000,
          intervalMs: 200,
          message: "all tasks to succeed on the restarted node",
        });
        const starts = await startsOf(prefix);
        const secondStarts = starts.filter((s) => s.node === "second");
        expect(new Set(secondStarts.map((s) => s.id))).toEqual(new Set(ids));
        expect(secondStarts.every((s) => s.attempt === 2)).toBe(true);
        for (const id of ids) expect((await client.get(id))?.result).toEqual({ sleptMs: 3000 });
      } finally {
        expect(await second.terminate()).toBe(0);
      }
    } finally {
      first.kill9();
      await client.close();
    }
  }, 60_000);

  test("SIGTERM: in-flight tasks finish, leases are released at once, exit code 0", async () => {
    const prefix = randomPrefix("term");
    const node = await startNodeProcess({ redisUrl: redis.url, prefix, tasksModule: TASKS, nodeId: "graceful" });
    const client = new Client({ redisUrl: redis.url, prefix });
    try {
      const running = await client.schedule("rec.sleep", { ms: 1000 }, { delay: 10 });
      const later = await client.schedule("rec.sleep", { ms: 10 }, { delay: 60_000 });
      await waitFor(async () => (await client.get(running.id))?.state === "running", { timeoutMs: 10_000, message: "task to run" });
      const code = await node.terminate();
      expect(code).toBe(0);
      expect((await client.get(running.id))?.state).toBe("succeeded");
      expect((await client.get(later.id))?.state).toBe("scheduled");
      const leases = await raw.keys(`${prefix}:{*}:lease`);
      if (leases.length > 0) console.log(`leases left after SIGTERM: ${leases}\n--- node output ---\n${node.output()}`);
      expect(leases).toEqual([]);
    } finally {
      node.kill9();
      await client.close();
    }
  }, 60_000);
});
