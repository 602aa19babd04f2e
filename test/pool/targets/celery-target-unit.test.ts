// The Celery deliverer against fakes of the broker and the store (no Redis): what it answers for
// each way a delivery can go, how a burst is coalesced, and the broker outage backoff.
import { describe, expect, test } from "bun:test";
import { CeleryDeliveryTarget } from "../../../src/pool/targets/celery/celery-target.ts";
import { BROKER_RETRY_MAX_MS, BROKER_RETRY_MIN_MS, BrokerBackoff } from "../../../src/pool/targets/celery/broker-backoff.ts";
import { celeryMessageProblem } from "../../../src/pool/targets/celery/message.ts";
import { joinParts } from "../../../src/pool/targets/celery/message-templates.ts";
import { decodeSpec } from "../../../src/task/codec.ts";
import type { Job } from "../../../src/pool/job.ts";
import type { CeleryHandoffItem } from "../../../src/store/celery-handoff.ts";

function job(id: string, target: Record<string, unknown>, args: unknown = [1, 2], shard = 0): Job {
  const specJson = JSON.stringify({ n: "t", a: args, d: { type: "celery", ...target }, c: 1 });
  return { shard, leaseToken: "node:1", batch: "7", id, attempt: 1, dueMs: 1000, score: "1000", specJson, spec: decodeSpec(specJson) };
}

const ctx = {} as never;

describe("push, then finish (another broker server)", () => {
  test("a burst for one queue goes out as few multi-value pushes of valid messages, in order", async () => {
    const pushes: { key: string; envelopes: string[] }[] = [];
    // Templated messages are sent as their template's values (the broker's script joins them); joined here.
    const target = new CeleryDeliveryTarget({
      broker: { pushMany: async (key, envelopes) => void pushes.push({ key, envelopes: envelopes.map((e) => (typeof e === "string" ? e : joinParts(e))) }) },
      origin: "tickwheel@test",
      retentionMs: 1000,
    });
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => target.deliver(job(`id-${i}`, { task: "a.b", queue: "q" }), ctx)));
    expect(outcomes.every((o) => o.kind === "succeeded")).toBe(true);
    // The first 16 go out at once (nothing was in flight), then groups of 128, then the rest.
    expect(pushes.map((p) => p.envelopes.length)).toEqual([16, 128, 128, 28]);
    const envelopes = pushes.flatMap((p) => p.envelopes);
    expect(envelopes.map((e) => JSON.parse(e).headers.id)).toEqual(Array.from({ length: 300 }, (_, i) => `id-${i}`));
    expect(new Set(pushes.map((p) => p.key))).toEqual(new Set(["q"]));
    for (const envelope of envelopes) expect(celeryMessageProblem(envelope)).toBeNull();
    expect(new Set(envelopes.map((e) => JSON.parse(e).properties.delivery_tag)).size).toBe(300);
  });

  test("a broker error uses no attempt: unavailable, retried within the backoff", async () => {
    const target = new CeleryDeliveryTarget({ broker: { pushMany: async () => { throw new Error("ECONNREFUSED"); } }, origin: "x", retentionMs: 1000, now: () => 50_000 });
    const outcome = await target.deliver(job("down", { task: "a.b" }), ctx);
    expect(outcome.kind).toBe("unavailable");
    if (outcome.kind !== "unavailable") return;
    expect(outcome.error).toContain("Celery broker unreachable: ECONNREFUSED");
    expect(outcome.retryAt! - 50_000).toBeGreaterThanOrEqual(BROKER_RETRY_MIN_MS / 2);
    expect(outcome.retryAt! - 50_000).toBeLessThanOrEqual(BROKER_RETRY_MIN_MS);
  });

  test("a stored target that cannot make a valid message ends the task dead, and nothing is pushed", async () => {
    let pushed = 0;
    const target = new CeleryDeliveryTarget({ broker: { pushMany: async () => void pushed++ }, origin: "x", retentionMs: 1000 });
    const outcome = await target.deliver(job("bad", { task: "has space" }), ctx);
    expect(outcome).toMatchObject({ kind: "failed", final: "dead" });
    expect(pushed).toBe(0);
  });
});

describe("one script (the broker is tickwheel's server)", () => {
  test("hand-offs are grouped per shard into script calls with final records and messages; the pool is told settled", async () => {
    const calls: { shard: number; brokerDb: number; items: CeleryHandoffItem[] }[] = [];
    const store = {
      celeryHandoff: async (shard: number, _token: string, brokerDb: number, items: CeleryHandoffItem[]) => {
        calls.push({ shard, brokerDb, items });
        return items.map(() => true);
      },
    };
    const target = new CeleryDeliveryTarget({ broker: { pushMany: async () => { throw new Error("not used"); } }, sameServer: { store, brokerDb: 3 }, origin: "x", retentionMs: 60_000, now: () => 5000 });
    expect(target.atomic).toBe(true);
    const outcomes = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => target.deliver(job(`s0-${i}`, { task: "a.b", priority: 9 }, [i], 0), ctx)),
      ...Array.from({ length: 5 }, (_, i) => target.deliver(job(`s1-${i}`, { task: "a.b" }, [i], 1), ctx)),
    ]);
    expect(outcomes.every((o) => o.kind === "settled")).toBe(true);
    expect(calls.map((c) => [c.shard, c.brokerDb, c.items.length])).toEqual([[0, 3, 10], [1, 3, 5]]);
    const item = calls[0]!.items[0]!;
    expect(item.listKey).toBe("celery\x06\x169");
    expect(JSON.parse(`{"state":"succeeded","attempt":${item.finalTail},"spec":{}}`)).toMatchObject({ state: "succeeded", attempt: 1, finishedAt: 5000, result: { celeryQueue: "celery", pushedAt: 5000 } });
    expect(item.ttlMs).toBe(60_000);
    // Sent as its template's parts (the script joins them); joined, a valid message.
    expect(typeof item.envelope).not.toBe("string");
    const envelope = typeof item.envelope === "string" ? item.envelope : joinParts(item.envelope);
    expect(celeryMessageProblem(envelope)).toBeNull();
    expect(JSON.parse(envelope).headers.id).toBe("s0-0");
  });

  test("a Redis error during the hand-off is a broker outage (unavailable), not a failed attempt", async () => {
    const store = { celeryHandoff: async () => { throw new Error("Connection is closed."); } };
    const target = new CeleryDeliveryTarget({ broker: { pushMany: async () => {} }, sameServer: { store, brokerDb: 0 }, origin: "x", retentionMs: 1000 });
    expect((await target.deliver(job("x", { task: "a.b" }), ctx)).kind).toBe("unavailable");
  });
});

describe("broker backoff", () => {
  test("waits half the outage so far, from 0.5 s to 30 s, jittered down to half; a success resets it", () => {
    const backoff = new BrokerBackoff(() => 1); // no jitter: the upper bound
    expect(backoff.failed(1_000) - 1_000).toBe(BROKER_RETRY_MIN_MS);
    expect(backoff.failed(11_000) - 11_000).toBe(5_000);
    expect(backoff.failed(1_000_000) - 1_000_000).toBe(BROKER_RETRY_MAX_MS);
    expect(backoff.failing).toBe(true);
    backoff.succeeded();
    expect(backoff.failing).toBe(false);
    expect(backoff.failed(2_000_000) - 2_000_000).toBe(BROKER_RETRY_MIN_MS);
    expect(new BrokerBackoff(() => 0).failed(0)).toBe(BROKER_RETRY_MIN_MS / 2);
  });
});
