// The node registry and the lease loop on a real redis-server, without actors or pools: entries
// expire when not refreshed, leave removes one at once, one id has one live process, and shard
// ownership follows the membership (a departed node's shards move within TTL plus a little; a
// newcomer gets a shard only after the old owner has handed it off and released it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Store } from "../../src/store/store.ts";
import { DuplicateNodeIdError, Membership } from "../../src/ownership/membership.ts";
import { ShardOwnership } from "../../src/ownership/shard-ownership.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { NodeAssignment } from "../../src/ownership/node-assignment.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const log = silentLogger();
let redis: RedisProcess;
const stores: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.quit().catch(() => {})));
  await redis?.cleanup();
});

function openStore(prefix: string): Store {
  const store = new Store({ redisUrl: redis.url, prefix });
  stores.push(store);
  return store;
}

function member(store: Store, nodeId: string, ttlMs: number, extra: Partial<ConstructorParameters<typeof Membership>[0]> = {}): Membership {
  return new Membership({ store: store.nodes, nodeId, ttlMs, heartbeatEveryMs: ttlMs / 3, log, info: () => ({ address: `http://${nodeId}`, startedAt: 1 }), ...extra });
}

describe("membership", () => {
  test("the heartbeat reads Redis' time to the microsecond (a whole ms would put the node's clock estimate up to 1 ms behind)", async () => {
    const store = openStore(randomPrefix("hbtime"));
    let fractional = 0;
    for (let i = 0; i < 20; i++) {
      const before = await store.time.nowMs();
      const outcome = await store.nodes.heartbeat("t", "instance-1", 5_000, "{}");
      const after = await store.time.nowMs();
      // Taken between the two TIME readings: a floored ms would fall below `before` most of the time.
      expect(outcome.redisNowMs).toBeGreaterThanOrEqual(before);
      expect(outcome.redisNowMs).toBeLessThanOrEqual(after);
      if (!Number.isInteger(outcome.redisNowMs)) fractional++;
    }
    expect(fractional).toBeGreaterThan(10);
  });

  test("heartbeats register, list and expire entries; leave removes one at once", async () => {
    const store = openStore(randomPrefix("mem"));
    const a = member(store, "a", 400);
    const b = member(store, "b", 400);
    expect((await a.join()).members).toEqual(["a"]);
    const view = await b.join();
    expect(view.members).toEqual(["a", "b"]);
    expect(view.nextExpiryInMs!).toBeGreaterThan(0);
    expect(view.nextExpiryInMs!).toBeLessThanOrEqual(400);
    const listed = await store.nodes.list();
    expect(listed.nodes.map((n) => n.id).sort()).toEqual(["a", "b"]);
    expect(JSON.parse(listed.nodes.find((n) => n.id === "a")!.infoJson)).toEqual({ address: "http://a", startedAt: 1 });

    // a stops heartbeating: gone from b's view once its entry lapses.
    await waitFor(async () => (await b.heartbeat()).members.join() === "b", { timeoutMs: 2000, intervalMs: 50, message: "a to expire" });
    expect((await store.nodes.list()).nodes.map((n) => n.id)).toEqual(["b"]);
    await b.leave();
    expect((await store.nodes.list()).nodes).toEqual([]);
    expect(b.members()).toEqual([]);
    // After leaving it does not register again.
    expect((await b.heartbeat()).members).toEqual([]);
    expect((await store.nodes.list()).nodes).toEqual([]);
  });

  test("an id held by a live process is refused; a dead process's id is free once its entry lapses", async () => {
    const store = openStore(randomPrefix("dup"));
    let displaced: Error | null = null;
    const live = member(store, "same", 600, { onDisplaced: (e) => (displaced = e) });
    await live.join();
    const beat = setInterval(() => void live.heartbeat(), 200);
    try {
      const started = performance.now();
      const error = await member(store, "same", 600).join().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DuplicateNodeIdError);
      expect((error as Error).message).toContain('node id "same" is already used by a live node (at http://same');
      // Seen refreshing within about one heartbeat interval, not after waiting out the TTL.
      expect(performance.now() - started).toBeLessThan(1500);
    } finally {
      clearInterval(beat);
    }
    // The holder stops (as if killed): a new process with the id gets in after the entry lapses.
    const started = performance.now();
    const successor = member(store, "same", 600);
    expect((await successor.join()).members).toEqual(["same"]);
    expect(performance.now() - started).toBeLessThan(1500);
    // The old process wakes up (a zombie) and finds its id taken: it is displaced, owns nothing,
    // and tells its node (which stops); the successor's entry is untouched.
    expect((await live.heartbeat()).members).toEqual([]);
    expect(live.currentState).toBe("displaced");
    expect(displaced).toBeInstanceOf(DuplicateNodeIdError);
    const entries = (await store.nodes.list()).nodes;
    expect(entries.map((n) => [n.id, n.instance])).toEqual([["same", successor.instance]]);
  });
});

interface TestNode {
  id: string;
  store: Store;
  membership: Membership;
  ownership: ShardOwnership;
  events: { shard: number; at: number; event: "acquired" | "handoff-start" | "released" | "lost" }[];
}

function startNode(prefix: string, id: string, shards: number, options: { ttlMs: number; renewMs: number; handoffMs?: number }): TestNode {
  const store = openStore(prefix);
  const events: TestNode["events"] = [];
  const assignment = new NodeAssignment();
  const membership = new Membership({ store: store.nodes, nodeId: id, ttlMs: options.ttlMs, heartbeatEveryMs: options.renewMs, log, info: () => ({}) });
  const node: TestNode = { id, store, membership, events, ownership: null as unknown as ShardOwnership };
  node.ownership = new ShardOwnership({
    store: store.leases,
    nodeId: id,
    ttlMs: options.ttlMs,
    renewEveryMs: options.renewMs,
    log,
    heartbeat: () => membership.heartbeat(),
    desiredShards: () => {
      const members = membership.members();
      return members ? assignment.shardsFor(id, members, new ShardMap(shards)) : [];
    },
    onAcquired: (shard) => events.push({ shard, at: performance.now(), event: "acquired" }),
    onLost: (shard) => events.push({ shard, at: performance.now(), event: "lost" }),
    onHandoff: async (shard) => {
      events.push({ shard, at: performance.now(), event: "handoff-start" });
      await Bun.sleep(options.handoffMs ?? 0);
    },
    onChange: (event, shard) => {
      if (event === "released") events.push({ shard, at: performance.now(), event: "released" });
    },
  });
  return node;
}

async function begin(node: TestNode): Promise<void> {
  await node.membership.join();
  await node.ownership.start();
}

describe("ownership follows membership", () => {
  test("a newcomer acquires a shard only after the old owner handed it off and released it", async () => {
    const prefix = randomPrefix("hand");
    const shards = 8;
    const a = startNode(prefix, "a", shards, { ttlMs: 1500, renewMs: 300, handoffMs: 400 });
    await begin(a);
    expect(a.ownership.owned().size).toBe(shards);
    const b = startNode(prefix, "b", shards, { ttlMs: 1500, renewMs: 300 });
    await begin(b);
    await waitFor(() => a.ownership.owned().size === shards / 2 && b.ownership.owned().size === shards / 2, {
      timeoutMs: 5000,
      message: "shards split 4/4",
    });
    for (const acquired of b.events.filter((e) => e.event === "acquired")) {
      const released = a.events.find((e) => e.shard === acquired.shard && e.event === "released");
      const handoff = a.events.find((e) => e.shard === acquired.shard && e.event === "handoff-start");
      expect(handoff).toBeDefined();
      expect(released).toBeDefined();
      // The hand-off (quiet, drain) took 400 ms, and the lease was released only after it.
      expect(released!.at - handoff!.at).toBeGreaterThanOrEqual(390);
      expect(acquired.at).toBeGreaterThan(released!.at);
    }
    await Promise.all([a.ownership.stop(), b.ownership.stop()]);
  });

  test("a node that goes silent loses its shards to the others within TTL plus a little", async () => {
    const prefix = randomPrefix("death");
    const shards = 6;
    const ttlMs = 900;
    const a = startNode(prefix, "a", shards, { ttlMs, renewMs: 300 });
    const b = startNode(prefix, "b", shards, { ttlMs, renewMs: 300 });
    await begin(a);
    await begin(b);
    await waitFor(() => a.ownership.owned().size === 3 && b.ownership.owned().size === 3, { timeoutMs: 5000, message: "3/3" });
    // a goes silent: its connection is cut, it renews and heartbeats nothing more.
    const silentAt = performance.now();
    await a.store.quit();
    await waitFor(() => b.ownership.owned().size === shards, { timeoutMs: 5000, intervalMs: 10, message: "b to hold every shard" });
    const takeoverMs = performance.now() - silentAt;
    console.log(`silent node's shards taken over after ${Math.round(takeoverMs)} ms (TTL ${ttlMs} ms, renew 300 ms)`);
    expect(takeoverMs).toBeLessThan(ttlMs + 300);
    await Promise.all([a.ownership.stop(), b.ownership.stop()]);
  });
});
