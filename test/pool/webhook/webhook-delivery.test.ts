// The webhook deliverer as the pool sees it: each answer becomes the outcome the outcome policy
// expects, and the policy's decision is the one the README states (410: succeeded with the
// answer as lastError; 404: dead; 503 + Retry-After: a retry at that time; no secret: the task
// waits without using an attempt). A real local server; the pool's policy function.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { DEFAULT_OUTBOUND_POLICY } from "../../../src/core/outbound-policy.ts";
import { webhookTarget } from "../../../src/pool/targets/webhook/webhook-delivery.ts";
import { decideAttempt } from "../../../src/pool/outcome-policy.ts";
import type { DeliveryContext } from "../../../src/pool/targets/target.ts";
import type { Job } from "../../../src/pool/job.ts";

let server: Server<undefined>;
let seen = 0;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      seen++;
      const path = new URL(request.url).pathname;
      if (path === "/ok") return Response.json({ done: true });
      if (path === "/gone") return new Response(null, { status: 410 });
      if (path === "/busy") return new Response(null, { status: 503, headers: { "retry-after": "30" } });
      return new Response(null, { status: 404 });
    },
  });
});
afterAll(() => server?.stop(true));

function job(path: string, timeoutMs?: number): Job {
  const target = { type: "webhook" as const, url: `http://127.0.0.1:${server.port}${path}`, ...(timeoutMs ? { timeoutMs } : {}) };
  return {
    shard: 0,
    leaseToken: "t",
    batch: "b",
    id: `job-${path}`,
    attempt: 1,
    dueMs: Date.now(),
    score: "0",
    specJson: "{}",
    spec: { name: "n", args: { a: 1 }, priority: 0, maxAttempts: 5, backoff: { baseMs: 1000, maxMs: 3_600_000 }, timeoutMs: 5000, expiresAt: null, target, createdAt: Date.now() },
  };
}

const ctx: DeliveryContext = { logFor: () => { throw new Error("not used"); }, progress: async () => {}, stopSignal: new AbortController().signal };
const target = webhookTarget({ secret: "delivery-test-secret-0123", policy: DEFAULT_OUTBOUND_POLICY, maxResultBytes: 1024 });

describe("webhook deliverer and the outcome policy", () => {
  test("2xx: succeeded with the JSON answer as result", async () => {
    const outcome = await target.deliver(job("/ok"), ctx);
    expect(outcome).toEqual({ kind: "succeeded", result: { done: true } });
  });

  test("410: the task ends succeeded, no result, the answer as lastError, whatever attempts are left", async () => {
    const j = job("/gone");
    const outcome = await target.deliver(j, ctx);
    expect(outcome).toMatchObject({ kind: "failed", final: "done" });
    expect(decideAttempt(j, outcome, Date.now())).toEqual({ kind: "succeeded", result: undefined, note: "webhook answered 410 Gone: the receiver declined the task; not retried" });
  });

  test("404: dead at once", async () => {
    const j = job("/missing");
    expect(decideAttempt(j, await target.deliver(j, ctx), Date.now())).toEqual({ kind: "dead", error: "webhook answered 404 Not Found" });
  });

  test("503 with Retry-After: 30: the retry is 30 s out, not the backoff's 0-1 s", async () => {
    const j = job("/busy");
    const sentAt = Date.now();
    const outcome = await target.deliver(j, ctx);
    const now = Date.now();
    const decision = decideAttempt(j, outcome, now, () => 0);
    expect(decision).toMatchObject({ kind: "retry", countsAttempt: true, error: "webhook answered 503 Service Unavailable" });
    expect((decision as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(30_000 - (now - sentAt) - 1);
    expect((decision as { delayMs: number }).delayMs).toBeLessThanOrEqual(30_000 + 1);
  });

  test("a node without TICKWHEEL_WEBHOOK_SECRET sends nothing and the task waits, using up no attempt", async () => {
    const before = seen;
    const unsigned = webhookTarget({ secret: undefined, policy: DEFAULT_OUTBOUND_POLICY, maxResultBytes: 1024 });
    const j = job("/ok");
    const outcome = await unsigned.deliver(j, ctx);
    expect(outcome).toEqual({ kind: "unavailable", error: "webhook not sent: TICKWHEEL_WEBHOOK_SECRET is not set on this node" });
    expect(decideAttempt(j, outcome, Date.now())).toMatchObject({ kind: "retry", countsAttempt: false });
    expect(seen).toBe(before);
  });
});
