// A live node runs young collections in the gaps of its timers (TICKWHEEL_GC_IN_GAPS, on by default)
// and counts them in /metrics; turned off, it runs none. Tasks due a few ms apart give the node's
// clock the timer slots and the gaps the collector waits for; tasks due every ms leave no gap, and
// the node collects on its own pace instead (mode "gapless").
import { afterAll, beforeAll, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import { loadConfig } from "../../src/config/config.ts";
import { TickwheelNode } from "../../src/node/node.ts";
import { silentLogger } from "../../src/core/log.ts";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

let started = 0;
defineTask("gaps.noop", z.object({}), () => {
  started++;
});

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.cleanup();
});

const COUNTER = "tickwheel_gc_gap_collections_total";
const PAUSE = "tickwheel_gc_gap_pause_seconds_total";

/** The node's own collections' pause so far (s), from /metrics. */
async function pausedSecondsOf(node: TickwheelNode): Promise<number> {
  const text = await (await createApp(node).request("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`${PAUSE} `));
  return line === undefined ? NaN : Number(line.slice(PAUSE.length + 1));
}

async function collectionsOf(node: TickwheelNode, mode: "gap" | "gapless" = "gap"): Promise<number> {
  const text = await (await createApp(node).request("/metrics")).text();
  const prefix = `${COUNTER}{mode="${mode}"} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? NaN : Number(line.slice(prefix.length));
}

/** A node with `count` tasks due `spacingMs` apart; answers the node once all started. */
async function runSpread(env: Record<string, string>, count = 300, spacingMs = 7): Promise<TickwheelNode> {
  const prefix = randomPrefix("gaps");
  const node = new TickwheelNode(loadConfig({ REDIS_URL: redis.url, PORT: "0", TICKWHEEL_PREFIX: prefix, TICKWHEEL_SHARDS: "4", ...env }), silentLogger());
  await node.start();
  const client = new Client({ redisUrl: redis.url, prefix });
  try {
    const before = started;
    const at = Date.now() + 500;
    const results = await client.scheduleMany(Array.from({ length: count }, (_, i) => ({ task: "gaps.noop", args: {}, options: { runAt: at + Math.floor(spacingMs * i) } })));
    for (const result of results) expect(result).not.toBeInstanceOf(Error);
    await waitFor(() => started - before === count, { timeoutMs: 20_000, message: `all ${count} tasks to start` });
  } finally {
    await client.close();
  }
  return node;
}

test("by default a node collects in the gaps of its timers, and /metrics counts it", async () => {
  const node = await runSpread({});
  try {
    // 300 starts 7 ms apart: far more than the 50 timer slots and 200 ms between collections.
    await waitFor(async () => (await collectionsOf(node)) >= 1, { timeoutMs: 10_000, message: `${COUNTER} to count a collection` });
  } finally {
    await node.stop();
  }
}, 60_000);

test("with tasks due every ms no gap comes, and the node collects every 50 ms anyway (mode gapless)", async () => {
  // 6,000 tasks, two due each ms for 3 s: a timer slot every ms.
  const node = await runSpread({}, 6_000, 0.5);
  try {
    // Checks give up on a gap after 50 ms, then collect every 50 ms: tens in 3 s.
    await waitFor(async () => (await collectionsOf(node, "gapless")) >= 3, { timeoutMs: 10_000, message: `${COUNTER}{mode="gapless"} to count collections` });
    // Each collection paused the node's thread for a while (a young collection is 0.1-10 ms),
    // and together far less than the seconds the node ran.
    const collections = (await collectionsOf(node)) + (await collectionsOf(node, "gapless"));
    const paused = await pausedSecondsOf(node);
    expect(paused).toBeGreaterThan(0);
    expect(paused / collections).toBeLessThan(0.05);
  } finally {
    await node.stop();
  }
}, 60_000);

test("with TICKWHEEL_GC_IN_GAPS=false it runs none, and the counter stays 0", async () => {
  const node = await runSpread({ TICKWHEEL_GC_IN_GAPS: "false" }, 6_000, 0.5);
  try {
    expect(await collectionsOf(node)).toBe(0);
    expect(await collectionsOf(node, "gapless")).toBe(0);
    expect(await pausedSecondsOf(node)).toBe(0);
  } finally {
    await node.stop();
  }
}, 60_000);
