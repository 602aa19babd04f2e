// The Celery message builder: the checks a malformed envelope must fail (each one kills or
// poisons a Celery 5.2 worker, reference §7), and built messages pushed onto a real broker run
// exactly once on a real Celery worker with their result in the result backend.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import {
  buildCeleryMessage,
  celeryMessageProblem,
  celeryQueueKey,
  type CeleryMessageInput,
} from "../../../src/pool/targets/celery/message.ts";
import { FIXTURE_RUNS_KEY, startCeleryWorker, type CeleryWorker } from "../../helpers/celery-worker.ts";
import { startRedis, type RedisProcess } from "../../helpers/redis-server.ts";
import { waitFor } from "../../helpers/wait.ts";

const base = (overrides: Partial<CeleryMessageInput> = {}): CeleryMessageInput => ({
  id: `t-${crypto.randomUUID()}`,
  task: "tw.add",
  args: [2, 3],
  kwargs: {},
  queue: "celery",
  priority: 0,
  deliveryTag: crypto.randomUUID(),
  expiresAtMs: null,
  origin: "tickwheel@test",
  ...overrides,
});

describe("celery message: template and checks", () => {
  test("a built message has every field a worker needs, no eta, and a base64 [args, kwargs, embed] body", () => {
    const input = base({ args: [1, "é"], kwargs: { x: 7 }, queue: "bridgeq", priority: 4 });
    const message = buildCeleryMessage(input);
    const envelope = JSON.parse(message.envelope);
    expect(envelope["content-type"]).toBe("application/json");
    expect(envelope.headers.task).toBe("tw.add");
    expect(envelope.headers.id).toBe(input.id);
    expect(envelope.headers.eta).toBeNull();
    expect(envelope.properties.delivery_tag).toBe(input.deliveryTag);
    expect(envelope.properties.delivery_info).toEqual({ exchange: "", routing_key: "bridgeq" });
    expect(envelope.properties.body_encoding).toBe("base64");
    expect(envelope.properties.priority).toBe(4);
    const body = JSON.parse(Buffer.from(envelope.body, "base64").toString("utf8"));
    expect(body).toEqual([[1, "é"], { x: 7 }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    expect(message.key).toBe("bridgeq\x06\x163");
    expect(celeryMessageProblem(message.envelope)).toBeNull();
  });

  test("priorities map to the largest step at or below them, with the transport's prefix and separator", () => {
    expect([0, 1, 2, 3, 5, 6, 8, 9].map((p) => celeryQueueKey("q", p))).toEqual([
      "q", "q", "q", "q\x06\x163", "q\x06\x163", "q\x06\x166", "q\x06\x166", "q\x06\x169",
    ]);
    expect(celeryQueueKey("q", 7, { keyPrefix: "tenantA:", prioritySep: ":", prioritySteps: [0, 5] })).toBe("tenantA:q:5");
  });

  test("expiresAt becomes Celery's expires header (ISO with offset)", () => {
    const envelope = JSON.parse(buildCeleryMessage(base({ expiresAtMs: Date.UTC(2027, 0, 1, 9) })).envelope);
    expect(envelope.headers.expires).toBe("2027-01-01T09:00:00.000+00:00");
  });

  test("bad input is refused with the field named", () => {
    expect(() => buildCeleryMessage(base({ task: "" }))).toThrow(/^task:/);
    expect(() => buildCeleryMessage(base({ task: "has space" }))).toThrow(/^task:/);
    expect(() => buildCeleryMessage(base({ queue: "q\x06\x163" }))).toThrow(/^queue:/);
    expect(() => buildCeleryMessage(base({ priority: 10 }))).toThrow(/^priority:/);
    expect(() => buildCeleryMessage(base({ args: { x: 1 } as never }))).toThrow(/^args:/);
    expect(() => buildCeleryMessage(base({ kwargs: [1] as never }))).toThrow(/^kwargs:/);
    expect(() => buildCeleryMessage(base({ deliveryTag: "" }))).toThrow(/^deliveryTag:/);
  });

  test("every envelope defect that kills, poisons or drops on a worker is caught", () => {
    const good = JSON.parse(buildCeleryMessage(base()).envelope);
    const variants: [string, (e: any) => unknown][] = [
      ["content-type", (e) => delete e["content-type"]],
      ["properties", (e) => delete e.properties],
      ["properties.delivery_tag", (e) => delete e.properties.delivery_tag],
      ["properties.delivery_info", (e) => delete e.properties.delivery_info],
      ["properties.delivery_info.exchange", (e) => delete e.properties.delivery_info.exchange],
      ["properties.delivery_info.routing_key", (e) => delete e.properties.delivery_info.routing_key],
      ["properties.body_encoding", (e) => delete e.properties.body_encoding],
      ["headers", (e) => delete e.headers],
      ["headers.task", (e) => delete e.headers.task],
      ["headers.id", (e) => delete e.headers.id],
      ["headers.eta", (e) => (e.headers.eta = "2027-01-01T00:00:00+00:00")],
      ["headers.expires", (e) => (e.headers.expires = "tomorrow")],
      ["body", (e) => (e.body = Buffer.from("[[1],{}]").toString("base64"))],
      ["body.args", (e) => (e.body = Buffer.from('[{},{},null]').toString("base64"))],
      ["body.kwargs", (e) => (e.body = Buffer.from('[[],[],null]').toString("base64"))],
    ];
    for (const [field, mutate] of variants) {
      const copy = structuredClone(good);
      mutate(copy);
      expect(celeryMessageProblem(JSON.stringify(copy))?.field).toBe(field);
    }
    expect(celeryMessageProblem("not json")?.field).toBe("envelope");
    expect(celeryMessageProblem("[1,2]")?.field).toBe("envelope");
  });
});

describe("celery message: a real worker runs what is built", () => {
  let redis: RedisProcess;
  let worker: CeleryWorker;
  let broker: Redis;
  let results: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    broker = new Redis(`${redis.url}/0`);
    results = new Redis(`${redis.url}/1`);
    worker = await startCeleryWorker({ brokerUrl: `${redis.url}/0`, resultUrl: `${redis.url}/1`, queues: ["celery", "bridgeq"] });
  }, 90_000);

  afterAll(async () => {
    await worker?.stop();
    broker?.disconnect();
    results?.disconnect();
    await redis?.cleanup();
  });

  const push = async (input: CeleryMessageInput) => {
    const message = buildCeleryMessage(input);
    await broker.lpush(message.key, message.envelope);
  };
  const resultOf = async (id: string) => {
    let meta: any;
    await waitFor(
      async () => {
        const text = await results.get(`celery-task-meta-${id}`);
        meta = text && JSON.parse(text);
        return Boolean(meta);
      },
      { timeoutMs: 30_000, message: `celery result of ${id}` },
    );
    return meta;
  };
  const runsOf = async (id: string) =>
    (await results.lrange(FIXTURE_RUNS_KEY, 0, -1)).map((line) => JSON.parse(line)).filter((run) => run.id === id);

  test("plain, kwargs, custom queue and priority messages each run exactly once with their result stored", async () => {
    const plain = base();
    const withKwargs = base({ task: "tw.echo", args: [1], kwargs: { to: "ada@example.com", n: 2 } });
    const customQueue = base({ task: "tw.echo", args: ["q"], queue: "bridgeq" });
    const prioritised = base({ task: "tw.echo", args: ["p"], queue: "bridgeq", priority: 7 });
    for (const input of [plain, withKwargs, customQueue, prioritised]) await push(input);

    expect((await resultOf(plain.id)).status).toBe("SUCCESS");
    expect((await resultOf(plain.id)).result).toBe(5);
    expect((await resultOf(withKwargs.id)).result).toEqual({ args: [1], kwargs: { to: "ada@example.com", n: 2 } });
    expect((await resultOf(customQueue.id)).result).toEqual({ args: ["q"], kwargs: {} });
    expect((await resultOf(prioritised.id)).result).toEqual({ args: ["p"], kwargs: {} });
    // The priority message was taken from the step-6 list of its queue and routed back to it.
    expect(await broker.llen("bridgeq\x06\x166")).toBe(0);

    // Let a duplicate, if any were pushed, reach the worker before counting.
    await Bun.sleep(500);
    for (const input of [plain, withKwargs, customQueue, prioritised]) {
      const runs = await runsOf(input.id);
      expect(runs.length).toBe(1);
      expect(runs[0].routing_key).toBe(input.queue);
    }
    expect(worker.output()).not.toMatch(/Unrecoverable error|Traceback/);
  }, 90_000);

  test("a task that raises stores FAILURE, and the worker stays up", async () => {
    const failing = base({ task: "tw.fail", args: ["no"] });
    await push(failing);
    const meta = await resultOf(failing.id);
    expect(meta.status).toBe("FAILURE");
    expect(meta.result.exc_type).toBe("ValueError");
    const after = base();
    await push(after);
    expect((await resultOf(after.id)).status).toBe("SUCCESS");
  }, 60_000);
});
