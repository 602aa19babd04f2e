// The test helpers themselves: a real server survives a restart through its AOF, kill -9 and
// pause really happen, and a 3-master cluster agrees with src/core/slot.ts on every key's slot.

import { afterAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { keySlot } from "../../src/core/slot.ts";
import { redisCommand } from "../../src/node/embedded-redis.ts";
import { startRedis, startRedisCluster, type RedisClusterProcess, type RedisProcess } from "./redis-server.ts";
import { waitFor } from "./wait.ts";

// Starting a server takes ~40 ms and a cluster ~2 s on an idle machine; a loaded CI runner can take
// many times that, and Bun's default per-test timeout is 5 s.
const SERVER_TEST_TIMEOUT_MS = 20_000;
const CLUSTER_TEST_TIMEOUT_MS = 40_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startRedis", () => {
  const servers: RedisProcess[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((server) => server.cleanup()));
  });

  function connect(server: RedisProcess): Redis {
    // No retries: a test that talks to a dead server should fail at once, not reconnect for ever.
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    clients.push(client);
    return client;
  }

  test("sets and gets a key, and the key survives a restart through the AOF", async () => {
    const server = await startRedis({ appendonly: true, appendfsync: "always" });
    servers.push(server);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const before = connect(server);
    await before.set("tickwheel:helper", "survives");
    expect(await before.get("tickwheel:helper")).toBe("survives");
    before.disconnect();

    const firstPid = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    expect(isAlive(firstPid)).toBe(false);
    expect(await connect(server).get("tickwheel:helper")).toBe("survives");
  }, SERVER_TEST_TIMEOUT_MS);

  test("kill9 ends the process and restart reloads what appendfsync always wrote", async () => {
    const server = await startRedis({ appendonly: true, appendfsync: "always" });
    servers.push(server);
    const client = connect(server);
    await client.set("acknowledged", "1");
    client.disconnect();
    const pid = server.pid;
    await server.kill9();
    expect(isAlive(pid)).toBe(false);
    await expect(redisCommand(server.port, ["PING"], { timeoutMs: 300 })).rejects.toThrow();

    await server.restart();
    expect(await connect(server).get("acknowledged")).toBe("1");
  }, SERVER_TEST_TIMEOUT_MS);

  test("pause stops answering and resume answers again", async () => {
    const server = await startRedis();
    servers.push(server);
    server.pause();
    await expect(redisCommand(server.port, ["PING"], { timeoutMs: 200 })).rejects.toThrow(/no reply/);
    server.resume();
    expect(await redisCommand(server.port, ["PING"])).toBe("PONG");
  }, SERVER_TEST_TIMEOUT_MS);

  test("stop and cleanup leave no process and no directory", async () => {
    const server = await startRedis();
    const pid = server.pid;
    await server.stop();
    expect(isAlive(pid)).toBe(false);
    await server.cleanup();
    expect(await Bun.file(`${server.dir}/redis.log`).exists()).toBe(false);
  }, SERVER_TEST_TIMEOUT_MS);

  test("two servers get different ports", async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    servers.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
  }, SERVER_TEST_TIMEOUT_MS);
});

describe("startRedisCluster", () => {
  let cluster: RedisClusterProcess | undefined;
  afterAll(async () => {
    await cluster?.cleanup();
  }, CLUSTER_TEST_TIMEOUT_MS);

  test("three masters reach cluster_state:ok and CLUSTER KEYSLOT agrees with keySlot()", async () => {
    cluster = await startRedisCluster();
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.seeds).toBe(cluster.nodes.map((node) => `${node.host}:${node.port}`).join(","));

    const keys = [
      "", "a", "foo", "bar", "{}", "{a}", "{a}b", "a{b}c", "{}{a}", "{a}{b}", "foo{}{bar}", "foo{{bar}}zap",
      "foo{bar}{zap}", "{user1000}.following", "{user1000}.followers", "{", "}", "}{", "{{}}", "a{", "a}",
      "tw:{0}:due", "tw:{17}:tasks", "tw:{255}:lease", "{ünïcødé}", "日本語{タグ}キー", "{😀}emoji", "emoji{😀}",
      "ключ{тег}", "{}日本", "a{}{😀}",
    ];
    // Empty tags followed by a real one are where hand-rolled slot functions go wrong.
    const tags = (i: number) => [`{${i}}`, `{tag-${i}-é}`, "{}", `{}{t${i}}`, `x{}y{${i}}z`];
    for (let i = 0; i < 200; i++) {
      const tag = tags(i)[i % 5] ?? "";
      keys.push(`task:${i}:${tag}:${"x".repeat(i % 7)}`, Bun.randomUUIDv7());
    }
    expect(keys.length).toBeGreaterThanOrEqual(300);

    const firstNode = cluster.nodes[0];
    if (firstNode === undefined) throw new Error("cluster has no nodes");
    const client = new Redis(firstNode.port, firstNode.host, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const mismatches: string[] = [];
      for (const key of keys) {
        const serverSlot = Number(await client.call("CLUSTER", "KEYSLOT", key));
        if (serverSlot !== keySlot(key)) mismatches.push(`${JSON.stringify(key)}: redis ${serverSlot}, keySlot ${keySlot(key)}`);
      }
      expect(mismatches).toEqual([]);
    } finally {
      client.disconnect();
    }
  }, CLUSTER_TEST_TIMEOUT_MS);

  test("every node serves the full slot range", async () => {
    if (cluster === undefined) throw new Error("cluster did not start");
    for (const node of cluster.nodes) {
      const info = await redisCommand(node.port, ["CLUSTER", "INFO"]);
      expect(String(info)).toContain("cluster_slots_assigned:16384");
    }
  }, CLUSTER_TEST_TIMEOUT_MS);
});

describe("waitFor", () => {
  test("returns once the condition holds, treating a throwing check as not yet", async () => {
    let calls = 0;
    await waitFor(
      () => {
        calls++;
        if (calls < 3) throw new Error("not listening yet");
        return calls >= 4;
      },
      { timeoutMs: 2_000, intervalMs: 1 },
    );
    expect(calls).toBe(4);
  });

  test("throws with the message and the last error at the deadline", async () => {
    await expect(
      waitFor(
        () => {
          throw new Error("connection refused");
        },
        { timeoutMs: 30, intervalMs: 5, message: "server ready" },
      ),
    ).rejects.toThrow(/server ready.*connection refused/);
  });
});
