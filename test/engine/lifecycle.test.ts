// Cancel, reschedule, expiry, retention, retries with backoff, dead letters and timeouts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import { Client } from "../../src/client/client.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const runs = new Map<string, { at: number; attempt: number }[]>();
function record(id: string, attempt: number) {
  const list = runs.get(id) ?? [];
  list.push({ at: Date.now(), attempt });
  runs.set(id, list);
}

const okTask = defineTask("life.ok", z.object({ n: z.number() }), (args, ctx) => {
  record(ctx.id, ctx.attempt);
  return { doubled: args.n * 2 };
});
const failingTask = defineTask("life.fail", z.object({}), (_args, ctx) => {
  record(ctx.id, ctx.attempt);
  throw new Error(`boom on attempt ${ctx.attempt}`);
});
const hangingTask = defineTask("life.hang", z.object({}), async (_args, ctx) => {
  record(ctx.id, ctx.attempt);
  await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
});
const slowProgress = defineTask("life.progress", z.object({}), async (_args, ctx) => {
  record(ctx.id, ctx.attempt);
  await ctx.progress({ step: 1, of: 2 });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return "done";
});

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = randomPrefix("life");
  node = await startInProcessNode({
    redisUrl: redis.url,
    prefix,
    env: { TICKWHEEL_RETENTION_MS: "1500" },
  });
  client = new Client({ redisUrl: redis.url, prefix });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

const stateOf = async (id: string) => (await client.get(id))?.state;

describe("cancel and reschedule", () => {
  test("cancel before the due time: it never runs and shows cancelled", async () => {
    const { id } = await client.schedule(okTask, { n: 1 }, { delay: 800 });
    const outcome = await client.cancel(id);
    expect(outcome.cancelled).toBe(true);
    expect(outcome.task?.state).toBe("cancelled");
    await Bun.sleep(1200);
    expect(runs.get(id)).toBeUndefined();
    expect(await stateOf(id)).toBe("cancelled");
  });

  test("reschedule before the due time: it runs at the new time, not the old", async () => {
    const { id } = await client.schedule(okTask, { n: 2 }, { delay: 300 });
    const newDue = Date.now() + 1500;
    const outcome = await client.reschedule(id, { runAt: newDue });
    expect(outcome.rescheduled).toBe(true);
    expect(outcome.task?.dueAt).toBe(newDue);
    await waitFor(() => (runs.get(id)?.length ?? 0) > 0, { timeoutMs: 5000, message: "rescheduled task to run" });
    expect(runs.get(id)![0]!.at).toBeGreaterThanOrEqual(newDue);
  });

  test("after the claim, cancel and reschedule report the task's state", async () => {
    const { id } = await client.schedule(slowProgress, {}, { delay: 20 });
    await waitFor(async () => (await stateOf(id)) === "running", { timeoutMs: 5000, message: "task to be running" });
    const cancel = await client.cancel(id);
    expect(cancel.cancelled).toBe(false);
    expect(cancel.task?.state).toBe("running");
    expect(cancel.task?.progress).toEqual({ step: 1, of: 2 });
    const reschedule = await client.reschedule(id, { delay: "1h" });
    expect(reschedule.rescheduled).toBe(false);
    expect(reschedule.task?.state).toBe("running");
    await waitFor(async () => (await stateOf(id)) === "succeeded", { timeoutMs: 5000, message: "task to succeed" });
    const late = await client.cancel(id);
    expect(late.cancelled).toBe(false);
    expect(late.task?.state).toBe("succeeded");
    expect(runs.get(id)!.length).toBe(1);
  });

  test("cancel of an unknown id reports it missing", async () => {
    expect(await client.cancel("no-such-task")).toEqual({ cancelled: false, task: null });
  });
});

describe("expiry and retention", () => {
  test("a task past its expiresAt is not run and shows expired", async () => {
    const now = Date.now();
    // Due after it expires: it cannot start in time.
    const { id } = await client.schedule(okTask, { n: 3 }, { runAt: now + 300, expiresAt: now + 100 });
    await waitFor(async () => (await stateOf(id)) === "expired", { timeoutMs: 5000, message: "task to expire" });
    expect(runs.get(id)).toBeUndefined();
    expect((await client.get(id))?.lastError).toContain("expired");
  });

  test("a finished task's state and result are readable during the retention and gone after it", async () => {
    const { id } = await client.schedule(okTask, { n: 21 }, { delay: 10 });
    await waitFor(async () => (await stateOf(id)) === "succeeded", { timeoutMs: 5000, message: "task to succeed" });
    expect((await client.get(id))?.result).toEqual({ doubled: 42 });
    // Retention is 1.5 s in this test: Redis' TTL removes the record.
    await waitFor(async () => (await client.get(id)) === null, { timeoutMs: 5000, message: "final record to expire" });
  });

  test("scheduling an existing id creates nothing and returns the existing task", async () => {
    const first = await client.schedule(okTask, { n: 5 }, { id: "dup-1", delay: "1h" });
    const second = await client.schedule(okTask, { n: 6 }, { id: "dup-1", delay: "2h" });
    expect(first.created).toBe(true);
    expect(second).toEqual({ ...first, created: false });
    expect((await client.get("dup-1"))?.args).toEqual({ n: 5 });
  });
});

describe("failures", () => {
  test("a throwing handler is retried with backoff and ends dead after maxAttempts", async () => {
    const { id } = await client.schedule(failingTask, {}, { delay: 10, maxAttempts: 3, backoff: { baseMs: 200, maxMs: 400 } });
    await waitFor(async () => (await stateOf(id)) === "dead", { timeoutMs: 8000, message: "task to be dead" });
    const attempts = runs.get(id)!;
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const view = await client.get(id);
    expect(view?.attempt).toBe(3);
    expect(view?.lastError).toContain("boom on attempt 3");
  });

  test("a failed attempt shows its error while waiting for the retry", async () => {
    const { id } = await client.schedule(failingTask, {}, { delay: 10, maxAttempts: 2, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    await waitFor(async () => (runs.get(id)?.length ?? 0) === 1 && (await client.get(id))?.lastError !== undefined, {
      timeoutMs: 5000,
      message: "first attempt to fail",
    });
    const view = await client.get(id);
    expect(view?.state).toBe("scheduled");
    expect(view?.lastError).toContain("boom on attempt 1");
    expect(view!.dueAt).toBeGreaterThan(Date.now() - 1000);
    await client.cancel(id);
  });

  test("a hanging handler is aborted at timeoutMs", async () => {
    const { id } = await client.schedule(hangingTask, {}, { delay: 10, timeoutMs: 300, maxAttempts: 1 });
    await waitFor(async () => (await stateOf(id)) === "dead", { timeoutMs: 5000, message: "hung task to be dead" });
    const view = await client.get(id);
    expect(view?.lastError).toContain("timed out after 300 ms");
    const finishedAfter = view!.finishedAt! - runs.get(id)![0]!.at;
    expect(finishedAfter).toBeGreaterThanOrEqual(290);
    expect(finishedAfter).toBeLessThan(2000);
  });

  test("args that fail the schema go to dead with the zod message, no retries", async () => {
    // Scheduled by name through a client that does not know the task, so nothing validates early.
    const { id } = await client.schedule("life.ok", { n: "not a number" }, { delay: 10, maxAttempts: 5 });
    await waitFor(async () => (await stateOf(id)) === "dead", { timeoutMs: 5000, message: "bad-args task to be dead" });
    const view = await client.get(id);
    expect(view?.attempt).toBe(1);
    expect(view?.lastError).toMatch(/invalid args: n: .*number/i);
    expect(runs.get(id)).toBeUndefined();
  });
});
