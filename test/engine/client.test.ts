// The producer client: when-to-run forms, exactly one of runAt/delay, typed args through a
// defineTask handle, scheduleMany per-item results, against a real Redis (no node needed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { Client, defineTask, TickwheelError } from "../../src/index.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix } from "../helpers/node.ts";

const invoice = defineTask("client.invoice", z.object({ invoiceId: z.number(), note: z.string().optional() }), () => {}, { maxAttempts: 7 });

let redis: RedisProcess;
let client: Client;

beforeAll(async () => {
  redis = await startRedis();
  client = new Client({ redisUrl: redis.url, prefix: randomPrefix("client"), shards: 8 });
});

afterAll(async () => {
  await client?.close();
  await redis?.cleanup();
});

describe("when a task runs", () => {
  test("runAt as Date, epoch ms and ISO string; delay as ms and durations", async () => {
    const at = Date.UTC(2030, 0, 1, 9, 0, 0);
    expect((await client.schedule(invoice, { invoiceId: 1 }, { runAt: new Date(at) })).dueAt).toBe(at);
    expect((await client.schedule(invoice, { invoiceId: 2 }, { runAt: at })).dueAt).toBe(at);
    expect((await client.schedule(invoice, { invoiceId: 3 }, { runAt: "2030-01-01T10:00:00+01:00" })).dueAt).toBe(at);
    // A delay counts from Redis' clock as the client last read it, at the earliest time that
    // reading allows (issue 14): that trails Date.now() by up to the reading's error (half its
    // round trip, a fraction of a ms here, more on a loaded machine). Hence the slack below.
    const before = Date.now() - 50;
    const week = await client.schedule(invoice, { invoiceId: 4 }, { delay: "7d" });
    expect(week.dueAt - before).toBeGreaterThanOrEqual(7 * 86_400_000);
    expect(week.dueAt - before).toBeLessThan(7 * 86_400_000 + 5000);
    const ninety = await client.schedule(invoice, { invoiceId: 5 }, { delay: "90s" });
    expect(ninety.dueAt - before).toBeGreaterThanOrEqual(90_000);
    const ms = await client.schedule(invoice, { invoiceId: 6 }, { delay: 1500 });
    expect(ms.dueAt - before).toBeGreaterThanOrEqual(1500);
  });

  test("exactly one of runAt and delay, else a clear error naming the field", async () => {
    await expect(client.schedule(invoice, { invoiceId: 1 }, {})).rejects.toThrow(/runAt: give exactly one of runAt or delay/);
    await expect(client.schedule(invoice, { invoiceId: 1 }, { runAt: Date.now(), delay: 5 })).rejects.toThrow(/runAt: give either runAt or delay, not both/);
    await expect(client.schedule(invoice, { invoiceId: 1 }, { delay: "5 parsecs" })).rejects.toMatchObject({ field: "delay", code: "invalid_input" });
    await expect(client.schedule(invoice, { invoiceId: 1 }, { delay: -1 })).rejects.toMatchObject({ field: "delay" });
    await expect(client.schedule(invoice, { invoiceId: 1 }, { runAt: "next tuesday" })).rejects.toMatchObject({ field: "runAt" });
  });
});

describe("args", () => {
  test("a handle validates args and applies the task's options", async () => {
    // @ts-expect-error invoiceId must be a number: the handle type-checks args at compile time.
    await expect(client.schedule(invoice, { invoiceId: "nine" }, { delay: 10 })).rejects.toMatchObject({ field: "args.invoiceId" });
    const ok = await client.schedule(invoice, { invoiceId: 9, note: "typed" }, { delay: "1h" });
    const view = await client.get(ok.id);
    expect(view).toMatchObject({ name: "client.invoice", args: { invoiceId: 9, note: "typed" }, maxAttempts: 7, state: "scheduled" });
  });

  test("args over 1 MiB are refused with payload_too_large on args", async () => {
    const big = "x".repeat(1024 * 1024 + 1);
    await expect(client.schedule("client.any", { big }, { delay: 10 })).rejects.toMatchObject({ field: "args", code: "payload_too_large" });
  });
});

describe("scheduleMany", () => {
  test("per-item results in input order; a bad item does not stop the others; duplicates create one task", async () => {
    const results = await client.scheduleMany([
      { task: "client.any", args: { i: 1 }, options: { id: "many-1", delay: "1h" } },
      { task: "client.any", args: { i: 2 }, options: { delay: -10 } },
      { task: "client.any", args: { i: 3 }, options: { id: "many-1", delay: "2h" } },
      { task: invoice, args: { invoiceId: 4 }, options: { id: "many-4", delay: "1h" } },
    ]);
    expect(results[0]).toMatchObject({ id: "many-1", created: true });
    expect(results[1]).toBeInstanceOf(TickwheelError);
    expect((results[1] as TickwheelError).field).toBe("delay");
    expect(results[2]).toMatchObject({ id: "many-1", created: false, dueAt: (results[0] as { dueAt: number }).dueAt });
    expect(results[3]).toMatchObject({ id: "many-4", created: true });
    expect((await client.get("many-1"))?.args).toEqual({ i: 1 });
  });
});
