// The same-server Celery hand-off script (celery-handoff-5.lua): the finish and the push happen
// together or not at all. A hand-off whose lease or batch is gone pushes nothing, so a task the
// reaper returned is never pushed by the node that lost it; and the message lands in the broker's
// database, not tickwheel's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { Store } from "../../src/store/store.ts";
import { Client } from "../../src/client/client.ts";
import { LEASE_LOST } from "../../src/store/outcomes.ts";
import type { CeleryHandoffItem } from "../../src/store/celery-handoff.ts";
import { ShardMap } from "../../src/core/shard-map.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { decodeFinal } from "../../src/task/codec.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";
import { CeleryBroker } from "../../src/store/celery-broker.ts";
import { CeleryMessageTemplates, joinParts } from "../../src/pool/targets/celery/message-templates.ts";
import { celeryMessageProblem, DEFAULT_TRANSPORT } from "../../src/pool/targets/celery/message.ts";

let redis: RedisProcess;
let broker: Redis;
const BROKER_DB = 3;

beforeAll(async () => {
  redis = await startRedis();
  broker = new Redis(`${redis.url}/${BROKER_DB}`);
});
afterAll(async () => {
  broker.disconnect();
  await redis.cleanup();
});

async function claimed(ids: string[]) {
  const prefix = randomPrefix("handoff");
  const store = new Store({ redisUrl: redis.url, prefix });
  const now = Date.now();
  const items = ids.map((id) => {
    const t = resolveTask("c.task", [1], { id, runAt: now - 10, target: { type: "celery", task: "c.task" } }, { nowMs: now, shards: new ShardMap(1), defaults: DEFAULT_TASK_DEFAULTS, requireTime: true });
    return { id: t.id, score: t.score, record: t.record };
  });
  await store.tasks.schedule(0, items, 0, now + 3_600_000);
  const lease = await store.leases.acquire(0, "owner", 60_000);
  if (!lease.acquired) throw new Error("lease not acquired");
  const batch = await store.attempts.claim(0, lease.token, now + 1, 100, now + 60_000);
  if (batch === null || batch === LEASE_LOST) throw new Error("nothing claimed");
  return { store, token: lease.token, batch: batch.batch, prefix };
}

const item = (id: string, batch: string, listKey: string): CeleryHandoffItem => ({
  id,
  batch,
  finishedAt: Date.now(),
  finalTail: `1,"dueAt":1,"finishedAt":${Date.now()},"result":{"celeryQueue":"q"}`,
  ttlMs: 60_000,
  listKey,
  envelope: JSON.stringify({ id }),
});

test("finishes the tasks and pushes their messages onto the broker database's lists, in order", async () => {
  const { store, token, batch } = await claimed(["h-1", "h-2", "h-3"]);
  const list = `q-${crypto.randomUUID()}`;
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, ["h-1", "h-2", "h-3"].map((id) => item(id, batch, list)))).toEqual([true, true, true]);
  // FIFO for a worker's BRPOP: the first pushed is at the right end.
  expect((await broker.lrange(list, 0, -1)).map((e) => JSON.parse(e).id)).toEqual(["h-3", "h-2", "h-1"]);
  const inspected = await store.tasks.inspect(0, "h-2");
  expect(inspected.kind).toBe("final");
  const final = decodeFinal((inspected as { finalJson: string }).finalJson);
  expect(final.state).toBe("succeeded");
  // Joined by the script around the spec of the task's record.
  expect(final.spec.name).toBe("c.task");
  expect(final.spec.target).toMatchObject({ type: "celery", task: "c.task" });
  // Not in tickwheel's own database.
  expect(await store.celery.serverRunId()).toMatch(/^\w{40}$/);
  const own = new Redis(redis.url);
  expect(await own.llen(list)).toBe(0);
  own.disconnect();
  await store.quit();
});

test("a lost lease or a reaped batch pushes nothing and finishes nothing", async () => {
  const { store, token, batch } = await claimed(["l-1", "l-2"]);
  const list = `q-${crypto.randomUUID()}`;
  expect(await store.celery.celeryHandoff(0, "someone-else:9", BROKER_DB, [item("l-1", batch, list)])).toBe(LEASE_LOST);
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("l-1", "no-such-batch", list)])).toEqual([false]);
  expect(await broker.llen(list)).toBe(0);
  expect((await store.tasks.inspect(0, "l-1")).kind).toBe("running");
  // After the reaper took the batch back, a late hand-off of it is skipped too.
  const reaped = await store.attempts.reap(0, token, Date.now() + 120_000, 10);
  expect(reaped === LEASE_LOST ? [] : reaped.entries.map((e) => e.id).sort()).toEqual(["l-1", "l-2"]);
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("l-2", batch, list)])).toEqual([false]);
  expect(await broker.llen(list)).toBe(0);
  await store.quit();
});

test("a handed-off task is listed as succeeded, as a finished one is (the console's index)", async () => {
  const { store, token, batch, prefix } = await claimed(["s-1", "s-2"]);
  const list = `q-${crypto.randomUUID()}`;
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("s-1", batch, list), item("s-2", batch, list)])).toEqual([true, true]);
  const client = new Client({ redisUrl: redis.url, prefix, shards: 1 });
  const page = await client.list({ state: "succeeded" });
  expect(page.tasks.map((task) => task.id).sort()).toEqual(["s-1", "s-2"]);
  await client.close();
  await store.quit();
});

test("after the lease lapsed and was taken again, the claimer's own batch is still handed off once", async () => {
  const { store, token, batch } = await claimed(["r-1"]);
  const list = `q-${crypto.randomUUID()}`;
  expect(await store.leases.release(0, token)).toBe(true);
  const again = await store.leases.acquire(0, "owner", 60_000);
  expect(again.acquired).toBe(true);
  // Refused for a batch the token did not claim; accepted, once, for its own.
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("r-1", `1@${token}x`, list)])).toBe(LEASE_LOST);
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("r-1", batch, list)])).toEqual([true]);
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, [item("r-1", batch, list)])).toEqual([false]);
  expect(await broker.llen(list)).toBe(1);
  // Nothing left for the reaper: it would have run the task a second time.
  const reaped = await store.attempts.reap(0, again.acquired ? again.token : "", Date.now() + 120_000, 10);
  expect(reaped === LEASE_LOST ? ["lease"] : reaped.entries.map((e) => e.id)).toEqual([]);
  await store.quit();
});

test("a call mixing lists and a reaped batch answers per item in order and keeps each list's order", async () => {
  const { store, token, batch } = await claimed(["m-1", "m-2", "m-3", "m-4", "m-5"]);
  const listA = `qa-${crypto.randomUUID()}`;
  const listB = `qb-${crypto.randomUUID()}\x06\x169`;
  const items = [
    item("m-1", batch, listA),
    item("m-2", batch, listB),
    item("m-x", "no-such-batch", listA),
    item("m-3", batch, listA),
    item("m-4", batch, listB),
    item("m-5", batch, listA),
  ];
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, items)).toEqual([true, true, false, true, true, true]);
  // Each list pops (RPOP, as a worker's BRPOP) in the order its items were given; nothing of the reaped batch.
  expect((await broker.lrange(listA, 0, -1)).reverse().map((e) => JSON.parse(e).id)).toEqual(["m-1", "m-3", "m-5"]);
  expect((await broker.lrange(listB, 0, -1)).reverse().map((e) => JSON.parse(e).id)).toEqual(["m-2", "m-4"]);
  for (const id of ["m-1", "m-2", "m-3", "m-4", "m-5"]) expect((await store.tasks.inspect(0, id)).kind).toBe("final");
  await store.quit();
});

test("templated envelopes are joined by the script into exactly the messages the node would build", async () => {
  const ids = ["p-1", 'p-"quoted"\\', "p-3"];
  const { store, token, batch } = await claimed(ids);
  const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, "tickwheel@test");
  const key = (kwargs: Record<string, unknown>) => ({ task: "c.task", queue: `q-${crypto.randomUUID()}`, priority: 0, kwargs, kwargsJson: JSON.stringify(kwargs) });
  const plain = key({});
  const withKwargs = key({ to: "é@x", n: [1, 2] });
  const messages = [
    templates.forHandoff(plain, ids[0]!, [1, "two"], crypto.randomUUID(), null),
    templates.forHandoff(withKwargs, ids[1]!, [], crypto.randomUUID(), Date.UTC(2027, 0, 1)),
    templates.forHandoff(plain, ids[2]!, [{ deep: ["x".repeat(2000)] }], crypto.randomUUID(), null),
  ];
  expect(messages.every((m) => typeof m.envelope !== "string")).toBe(true);
  const items = messages.map((m, i) => ({ ...item(ids[i]!, batch, m.key), envelope: m.envelope }));
  expect(await store.celery.celeryHandoff(0, token, BROKER_DB, items)).toEqual([true, true, true]);
  const pushed = [...(await broker.lrange(messages[0]!.key, 0, -1)).reverse(), ...(await broker.lrange(messages[1]!.key, 0, -1))];
  const expected = [messages[0]!, messages[2]!, messages[1]!].map((m) => joinParts(m.envelope as Exclude<typeof m.envelope, string>));
  expect(pushed).toEqual(expected);
  for (const envelope of pushed) expect(celeryMessageProblem(envelope)).toBeNull();
  expect(JSON.parse(pushed[2]!).headers.id).toBe(ids[1]);
  await store.quit();
});

test("a broker that is another server joins templated messages too (celery-push script), in order", async () => {
  const celeryBroker = new CeleryBroker(`${redis.url}/${BROKER_DB}`);
  const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, "tickwheel@test");
  const key = { task: "c.task", queue: `q-${crypto.randomUUID()}`, priority: 0, kwargs: { n: 1 }, kwargsJson: '{"n":1}' };
  const ids = ["b-1", 'b-"2"', "b-3"];
  const messages = ids.map((id, i) => templates.forHandoff(key, id, [i, "é"], crypto.randomUUID(), i === 1 ? Date.UTC(2027, 0, 1) : null));
  const parts = messages.map((m) => m.envelope as Exclude<typeof m.envelope, string>);
  await celeryBroker.pushMany(messages[0]!.key, parts);
  await celeryBroker.pushMany(messages[0]!.key, ["{\"whole\":true}"]);
  const popped = (await broker.lrange(messages[0]!.key, 0, -1)).reverse();
  expect(popped).toEqual([...parts.map(joinParts), '{"whole":true}']);
  for (const envelope of popped.slice(0, 3)) expect(celeryMessageProblem(envelope)).toBeNull();
  await celeryBroker.close();
});

test("a broker that refuses scripts (ACL without @scripting) is sent the same messages whole", async () => {
  const refusing = await startRedis();
  const admin = new Redis(refusing.url);
  const celeryBroker = new CeleryBroker(`${refusing.url}/0`);
  try {
    await admin.call("ACL", "SETUSER", "default", "-@scripting");
    await expect(admin.eval("return 1", 0)).rejects.toThrow(/NOPERM/);
    const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, "tickwheel@test");
    const key = { task: "c.task", queue: "q", priority: 0, kwargs: {}, kwargsJson: "{}" };
    const parts = ["r-1", "r-2", "r-3"].map((id, i) => templates.forHandoff(key, id, [i], crypto.randomUUID(), null).envelope as Exclude<CeleryHandoffItem["envelope"], string>);
    await celeryBroker.pushMany("q", parts.slice(0, 2));
    await celeryBroker.pushMany("q", parts.slice(2));
    expect((await admin.lrange("q", 0, -1)).reverse()).toEqual(parts.map(joinParts));
  } finally {
    admin.disconnect();
    await celeryBroker.close();
    await refusing.cleanup();
  }
});
