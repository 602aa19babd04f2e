// Webhook target end to end: a real node process delivers to a real local HTTP server
// (Bun.serve on port 0). The signature verifies with the README's recipes (JS and Python); 500
// then 200 is retried with backoff; Retry-After is honoured; 410 stops at one call; a hanging
// endpoint is cut at timeoutMs; a refused address is a 400 naming target.url at schedule time;
// a name that resolves to a refused address (localhost, on a node that refuses loopback) is
// refused at delivery and nothing is sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const SECRET = "engine-webhook-secret-0123456789";
const SYSTEM_PYTHON = "/usr/bin/python3";
const ARTIFACTS = join(ROOT, "test-artifacts", `webhook-${process.pid}`);

interface Hit {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: string;
}

let redis: RedisProcess;
let node: NodeProcess;
let strictNode: NodeProcess;
let server: Server<undefined>;
let base: string;
const hits: Hit[] = [];
const callsTo = (path: string) => hits.filter((hit) => hit.path === path);
/** Requests the /slow endpoint holds right now, and the most it held at once. */
let slowNow = 0;
let slowMax = 0;
/** The node's pool size (TICKWHEEL_CONCURRENCY). */
const CONCURRENCY = 24;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      const body = await request.text();
      hits.push({ at: Date.now(), path: url.pathname, headers: Object.fromEntries(request.headers), body });
      const count = callsTo(url.pathname).length;
      switch (url.pathname.split("/")[1]) {
        case "ok":
          return Response.json({ handled: JSON.parse(body).id });
        case "flaky":
          return count === 1 ? new Response("down for a moment", { status: 500 }) : Response.json({ attempt: JSON.parse(body).attempt });
        case "later":
          return count === 1 ? new Response(null, { status: 503, headers: { "retry-after": "2" } }) : Response.json({ ok: true });
        case "gone":
          return new Response("unsubscribed", { status: 410 });
        case "hang":
          return new Promise<Response>(() => {});
        case "slow":
          slowMax = Math.max(slowMax, ++slowNow);
          await Bun.sleep(300);
          slowNow--;
          return new Response(null, { status: 204 });
        default:
          return new Response("no such hook", { status: 404 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
  redis = await startRedis();
  const env = { TICKWHEEL_WEBHOOK_SECRET: SECRET };
  [node, strictNode] = await Promise.all([
    startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("wh"), env: { ...env, TICKWHEEL_CONCURRENCY: String(CONCURRENCY) } }),
    startNodeProcess({ redisUrl: redis.url, prefix: randomPrefix("whs"), env: { ...env, TICKWHEEL_WEBHOOK_DENY: "loopback" } }),
  ]);
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await node?.terminate();
  await strictNode?.terminate();
  server?.stop(true);
  await redis?.cleanup();
  rmSync(ARTIFACTS, { recursive: true, force: true });
});

async function schedule(on: NodeProcess, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const response = await fetch(`${on.url}/v1/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function task(on: NodeProcess, id: string): Promise<any> {
  const response = await fetch(`${on.url}/v1/tasks/${encodeURIComponent(id)}`);
  return response.status === 404 ? null : await response.json();
}

async function finalState(on: NodeProcess, id: string, timeoutMs = 15_000): Promise<any> {
  let view: any;
  await waitFor(async () => ["succeeded", "dead", "cancelled", "expired"].includes((view = await task(on, id))?.state), { timeoutMs, message: `task ${id} to end` });
  return view;
}

/** The README's fenced block of `language` that contains `marker`. */
function readmeBlock(language: string, marker: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const match of readme.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))) if (match[1]!.includes(marker)) return match[1]!;
  throw new Error(`README has no \`\`\`${language} block with ${marker}`);
}

describe("webhook target on a real node", () => {
  test("the delivery is signed; the README's JS and Python recipes verify it, and refuse a tampered one", async () => {
    const id = `sig-${Date.now()}`;
    const created = await schedule(node, { id, name: "billing.remind", args: { text: "héllo ✓", n: 1 }, delay: 50, target: { type: "webhook", url: `${base}/ok/sig`, headers: { authorization: "Bearer abc" } } });
    expect(created.status).toBe(201);
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "succeeded", attempt: 1, result: { handled: id }, target: { type: "webhook", url: `${base}/ok/sig`, headers: { authorization: "Bearer abc" } } });
    const hit = callsTo("/ok/sig")[0]!;
    expect(JSON.parse(hit.body)).toMatchObject({ id, name: "billing.remind", args: { text: "héllo ✓", n: 1 }, attempt: 1, dueAt: created.json.dueAt });
    expect(JSON.parse(hit.body).firedAt).toBeGreaterThanOrEqual(created.json.dueAt);
    expect(hit.headers).toMatchObject({ "tickwheel-task-id": id, "tickwheel-attempt": "1", authorization: "Bearer abc", "content-type": "application/json" });

    // JavaScript, as written in the README.
    const jsFile = join(ARTIFACTS, "verify.mjs");
    writeFileSync(jsFile, readmeBlock("js", "verifyTickwheelWebhook"));
    const { verifyTickwheelWebhook } = await import(jsFile);
    const headers = new Headers(hit.headers);
    expect(verifyTickwheelWebhook(SECRET, headers, hit.body)).toBe(true);
    expect(verifyTickwheelWebhook(SECRET, headers, hit.body.replace("héllo", "hello"))).toBe(false);
    expect(verifyTickwheelWebhook("another-secret-0123456789", headers, hit.body)).toBe(false);
    // A correctly signed request with an old timestamp is a replay: refused.
    const oldTimestamp = String(Math.floor(Date.now() / 1000) - 3600);
    const replayed = new Headers({ "tickwheel-timestamp": oldTimestamp, "tickwheel-signature": createHmac("sha256", SECRET).update(`${oldTimestamp}.${hit.body}`).digest("hex") });
    expect(verifyTickwheelWebhook(SECRET, replayed, hit.body)).toBe(false);

    // Python (the system's python3), as written in the README.
    const python = readmeBlock("python", "def verify_tickwheel_webhook");
    const driver = `${python}\nimport json, sys\ncase = json.load(sys.stdin)\nprint(json.dumps([verify_tickwheel_webhook(s, case["headers"], case["body"].encode("utf-8")) for s in case["secrets"]] + [verify_tickwheel_webhook(case["secrets"][0], case["headers"], case["body"].replace("héllo", "hello").encode("utf-8"))]))\n`;
    const run = Bun.spawnSync([SYSTEM_PYTHON, "-c", driver], { stdin: new TextEncoder().encode(JSON.stringify({ headers: hit.headers, body: hit.body, secrets: [SECRET, "another-secret-0123456789"] })) });
    expect(run.stderr.toString()).toBe("");
    expect(JSON.parse(run.stdout.toString())).toEqual([true, false, false]);
  });

  test("500 then 200: retried with the task's backoff, and succeeds on attempt 2", async () => {
    const id = `flaky-${Date.now()}`;
    await schedule(node, { id, name: "n", delay: 20, maxAttempts: 3, backoff: { baseMs: 300, maxMs: 300 }, target: { type: "webhook", url: `${base}/flaky/${id}` } });
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "succeeded", attempt: 2, result: { attempt: 2 } });
    const calls = callsTo(`/flaky/${id}`);
    expect(calls.length).toBe(2);
    expect(calls.map((call) => call.headers["tickwheel-attempt"])).toEqual(["1", "2"]);
    // The retry was put back in Redis with a due time within the backoff's cap (full jitter:
    // 0 … 300 ms after the failure), and the second call came at that due time, not before.
    expect(view.dueAt).toBeGreaterThanOrEqual(calls[0]!.at - 5);
    expect(view.dueAt).toBeLessThanOrEqual(calls[0]!.at + 300 + 100);
    expect(calls[1]!.at).toBeGreaterThanOrEqual(view.dueAt);
  });

  test("Retry-After is honoured: 503 with Retry-After: 2 waits 2 s although the backoff would retry at once", async () => {
    const id = `later-${Date.now()}`;
    await schedule(node, { id, name: "n", delay: 20, backoff: { baseMs: 1, maxMs: 60_000 }, target: { type: "webhook", url: `${base}/later/${id}` } });
    // While it waits, the task shows why.
    await waitFor(async () => (await task(node, id))?.lastError !== undefined, { timeoutMs: 10_000, message: "the 503 to show" });
    expect(await task(node, id)).toMatchObject({ state: "scheduled", attempt: 1, lastError: "webhook answered 503 Service Unavailable" });
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "succeeded", attempt: 2 });
    const calls = callsTo(`/later/${id}`);
    expect(calls.length).toBe(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2000 - 20);
    expect(calls[1]!.at - calls[0]!.at).toBeLessThan(6000);
  });

  test("410 stops at one call: the task ends, with the answer as lastError", async () => {
    const id = `gone-${Date.now()}`;
    await schedule(node, { id, name: "n", delay: 20, maxAttempts: 5, backoff: { baseMs: 1, maxMs: 10 }, target: { type: "webhook", url: `${base}/gone/${id}` } });
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "succeeded", attempt: 1, lastError: "webhook answered 410 Gone: unsubscribed: the receiver declined the task; not retried" });
    expect(view.result).toBeUndefined();
    await Bun.sleep(500);
    expect(callsTo(`/gone/${id}`).length).toBe(1);
  });

  test("another 4xx is dead at once, with the status in lastError", async () => {
    const id = `missing-${Date.now()}`;
    await schedule(node, { id, name: "n", delay: 20, maxAttempts: 5, target: { type: "webhook", url: `${base}/nothing-here/${id}` } });
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "dead", attempt: 1, lastError: "webhook answered 404 Not Found: no such hook" });
  });

  test("a hanging endpoint is cut at the target's timeoutMs", async () => {
    const id = `hang-${Date.now()}`;
    await schedule(node, { id, name: "n", delay: 20, maxAttempts: 1, target: { type: "webhook", url: `${base}/hang/${id}`, timeoutMs: 700 } });
    const view = await finalState(node, id);
    expect(view).toMatchObject({ state: "dead", attempt: 1, lastError: "webhook timed out after 700 ms" });
    const sentAt = callsTo(`/hang/${id}`)[0]!.at;
    expect(view.finishedAt - sentAt).toBeGreaterThanOrEqual(650);
    expect(view.finishedAt - sentAt).toBeLessThan(5000);
  });

  test("many deliveries are in flight at once, never more than the pool's bound", async () => {
    const runAt = Date.now() + 300;
    const ids = Array.from({ length: 60 }, (_, i) => `slow-${runAt}-${i}`);
    const response = await fetch(`${node.url}/v1/tasks/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tasks: ids.map((id) => ({ id, name: "n", runAt, target: { type: "webhook", url: `${base}/slow/${id}` } })) }),
    });
    expect(response.status).toBe(200);
    for (const id of ids) expect((await finalState(node, id, 30_000)).state).toBe("succeeded");
    // Each call holds 300 ms: one at a time would take 18 s; the pool keeps its bound busy.
    expect(slowMax).toBeLessThanOrEqual(CONCURRENCY);
    expect(slowMax).toBeGreaterThanOrEqual(CONCURRENCY / 2);
  }, 60_000);

  test("a refused address is a 400 naming target.url at schedule time, and nothing is stored", async () => {
    const cases: [string, RegExp][] = [
      ["http://169.254.169.254/latest/meta-data/", /169\.254\.169\.254 is a cloud metadata address/],
      ["http://[::ffff:169.254.169.254]/", /cloud metadata address/],
      ["http://0xa9fea9fe/", /cloud metadata address/],
      ["http://metadata.google.internal/", /metadata service/],
      ["http://[fe80::1]/", /link-local/],
      ["ftp://example.com/", /http:\/\/ or https:\/\//],
    ];
    for (const [url, message] of cases) {
      const id = `refused-${Math.random().toString(36).slice(2)}`;
      const { status, json } = await schedule(node, { id, name: "n", delay: 10, target: { type: "webhook", url } });
      expect(status).toBe(400);
      expect(json.error.code).toBe("invalid_input");
      expect(json.error.field).toBe("target.url");
      expect(json.error.message).toMatch(message);
      expect(await task(node, id)).toBeNull();
    }
    // The strict node refuses a loopback literal when it is scheduled.
    const { status, json } = await schedule(strictNode, { name: "n", delay: 10, target: { type: "webhook", url: `${base}/ok/x` } });
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ field: "target.url", message: expect.stringMatching(/127\.0\.0\.1 is loopback, refused by TICKWHEEL_WEBHOOK_DENY/) });
  });

  test("a name that resolves to a refused address is refused at delivery, and nothing is sent", async () => {
    const id = `rebind-${Date.now()}`;
    // `localhost` is a name: accepted at schedule time, resolved (to 127.0.0.1 or ::1) at delivery.
    const created = await schedule(strictNode, { id, name: "n", delay: 20, maxAttempts: 3, target: { type: "webhook", url: `http://localhost:${server.port}/ok/${id}` } });
    expect(created.status).toBe(201);
    const view = await finalState(strictNode, id);
    expect(view.state).toBe("dead");
    expect(view.attempt).toBe(1);
    expect(view.lastError).toMatch(/^webhook not sent: localhost resolved to (127\.0\.0\.1|0:0:0:0:0:0:0:1) is loopback, refused by TICKWHEEL_WEBHOOK_DENY$/);
    expect(callsTo(`/ok/${id}`).length).toBe(0);
  });
});
