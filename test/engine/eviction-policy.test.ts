// A Redis that may evict keys (maxmemory-policy allkeys-lru, a common default of managed caches):
// the node refuses to start with one line saying what to change, starts with
// TICKWHEEL_ALLOW_EVICTION=true, and /ready, /admin/nodes and /metrics show the policy. A running
// node whose Redis turns evicting notices at its next check and answers /ready with 503.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { EvictionGuard } from "../../src/node/eviction-guard.ts";
import { readMemoryPolicyAt } from "../../src/store/redis-memory-policy.ts";
import { silentLogger } from "../../src/core/log.ts";

let redis: RedisProcess;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});

afterAll(async () => {
  raw?.disconnect();
  await redis?.cleanup();
});

describe("an evicting Redis", () => {
  test("allkeys-lru: the node refuses to start with one line naming the policy and the two ways out", async () => {
    await raw.config("SET", "maxmemory-policy", "allkeys-lru");
    const prefix = randomPrefix("evict");
    const proc = Bun.spawn(["bun", join(ROOT, "src/main.ts")], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url, PORT: "0", TICKWHEEL_PREFIX: prefix, TICKWHEEL_LOG_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(1);
    expect(out).not.toContain("listening");
    const lines = err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('maxmemory-policy is "allkeys-lru"');
    expect(lines[0]).toContain("CONFIG SET maxmemory-policy noeviction");
    expect(lines[0]).toContain("TICKWHEEL_ALLOW_EVICTION=true");
    // Refused before writing anything under its prefix.
    expect(await raw.keys(`${prefix}*`)).toEqual([]);
  });

  test("with TICKWHEEL_ALLOW_EVICTION=true it starts, warns, and shows the policy in /ready, /admin/nodes and /metrics", async () => {
    await raw.config("SET", "maxmemory-policy", "allkeys-lru");
    const node = await startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("evict"), env: { TICKWHEEL_ALLOW_EVICTION: "true" } });
    try {
      expect(node.output()).toContain("Redis may evict keys");
      const ready = (await (await fetch(`${node.url}/ready`)).json()) as any;
      expect(ready.redis).toEqual({ maxmemoryPolicy: "allkeys-lru", evicting: true, evictionAllowed: true });
      await waitFor(async () => (await fetch(`${node.url}/ready`)).status === 200, { timeoutMs: 10_000, message: "node ready" });
      const nodes = (await (await fetch(`${node.url}/admin/nodes`)).json()) as any;
      await waitFor(
        async () => (((await (await fetch(`${node.url}/admin/nodes`)).json()) as any).nodes[0]?.redis?.maxmemoryPolicy ?? null) === "allkeys-lru",
        { timeoutMs: 10_000, message: "policy in the registry" },
      );
      expect(nodes.nodes).toHaveLength(1);
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      expect(metrics).toContain('tickwheel_redis_evicting{policy="allkeys-lru"} 1');
    } finally {
      await node.terminate();
      await raw.config("SET", "maxmemory-policy", "noeviction");
    }
  });

  test("a running node's check notices a switch to volatile-lru (not ready), and back (ready)", async () => {
    await raw.config("SET", "maxmemory-policy", "noeviction");
    const guard = new EvictionGuard({ read: () => readMemoryPolicyAt({ redisUrl: redis.url }), allowEviction: false, log: silentLogger(), checkEveryMs: 50 });
    try {
      expect(await guard.check()).toEqual({ policy: "noeviction", evicting: false });
      expect(guard.acceptable).toBe(true);
      guard.start();
      await raw.config("SET", "maxmemory-policy", "volatile-lru");
      await waitFor(() => guard.acceptable === false, { timeoutMs: 5000, message: "the guard to see the evicting policy" });
      expect(guard.policy).toEqual({ policy: "volatile-lru", evicting: true });
      await raw.config("SET", "maxmemory-policy", "noeviction");
      await waitFor(() => guard.acceptable === true, { timeoutMs: 5000, message: "the guard to see noeviction again" });
    } finally {
      guard.stop();
      await raw.config("SET", "maxmemory-policy", "noeviction");
    }
  });
});
