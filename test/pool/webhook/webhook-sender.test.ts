// The webhook sender against a real local HTTP server (Bun.serve on port 0): what is sent, what
// each answer means, the timeout, redirects, and the delivery-time address check after DNS.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { Server } from "bun";
import { DEFAULT_OUTBOUND_POLICY, parseOutboundPolicy } from "../../../src/core/outbound-policy.ts";
import { WebhookSender, type HostResolver } from "../../../src/pool/targets/webhook/webhook-sender.ts";

const SECRET = "test-secret-0123456789";

interface Hit {
  path: string;
  /** The client's source port: the same port again means the connection was reused. */
  port: number;
  host: string | null;
  headers: Record<string, string>;
  body: string;
}

let server: Server<undefined>;
let base: string;
const hits: Hit[] = [];

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      const body = await request.text();
      hits.push({ path: url.pathname, port: this.requestIP(request)?.port ?? -1, host: request.headers.get("host"), headers: Object.fromEntries(request.headers), body });
      switch (url.pathname) {
        case "/ok":
          return Response.json({ received: JSON.parse(body).id });
        case "/text":
          return new Response("fine");
        case "/big":
          return new Response(JSON.stringify({ blob: "x".repeat(5000) }), { headers: { "content-type": "application/json" } });
        case "/gone":
          return new Response("no longer wanted", { status: 410 });
        case "/busy":
          return new Response("slow down", { status: 429, headers: { "retry-after": "3" } });
        case "/redirect":
          return new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/" } });
        case "/missing":
          return new Response("nope", { status: 404 });
        case "/hang":
          return new Promise<Response>(() => {});
        default:
          return new Response("boom", { status: 500 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => server?.stop(true));

const delivery = { id: "T1", name: "n", args: [1, 2], attempt: 1, dueAt: Date.now() };

function sender(overrides: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {}): WebhookSender {
  return new WebhookSender({ secret: SECRET, policy: DEFAULT_OUTBOUND_POLICY, maxResultBytes: 1024, ...overrides });
}

function hitsOf(path: string): Hit[] {
  return hits.filter((hit) => hit.path === path);
}

describe("webhook sender", () => {
  test("POSTs the signed JSON; the receiver's check (README recipe, node:crypto) accepts it; JSON answer is the result", async () => {
    const verdict = await sender().send({ ...delivery, id: "sig-1" }, { url: `${base}/ok`, headers: { authorization: "Bearer abc" } }, 5000);
    expect(verdict).toEqual({ kind: "delivered", result: { received: "sig-1" } });
    const hit = hitsOf("/ok").find((h) => JSON.parse(h.body).id === "sig-1")!;
    const timestamp = hit.headers["tickwheel-timestamp"]!;
    const expected = createHmac("sha256", SECRET).update(`${timestamp}.${hit.body}`).digest("hex");
    expect(hit.headers["tickwheel-signature"]).toBe(expected);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(hit.headers["tickwheel-task-id"]).toBe("sig-1");
    expect(hit.headers["tickwheel-attempt"]).toBe("1");
    expect(hit.headers.authorization).toBe("Bearer abc");
    expect(JSON.parse(hit.body)).toMatchObject({ id: "sig-1", name: "n", args: [1, 2], attempt: 1, dueAt: delivery.dueAt });
  });

  test("a non-JSON 2xx body leaves no result; one over the bound is not read as one", async () => {
    expect(await sender().send(delivery, { url: `${base}/text` }, 5000)).toEqual({ kind: "delivered", result: undefined });
    expect(await sender().send(delivery, { url: `${base}/big` }, 5000)).toEqual({ kind: "delivered", result: undefined });
    expect((await sender({ maxResultBytes: 10_000 }).send(delivery, { url: `${base}/big` }, 5000)) as { result: { blob: string } }).toMatchObject({ result: { blob: expect.any(String) } });
  });

  test("500 and connection errors retry; 429 carries its Retry-After; 410 is gone; 404 is dead", async () => {
    expect(await sender().send(delivery, { url: `${base}/fail` }, 5000)).toEqual({ kind: "retry", error: "webhook answered 500 Internal Server Error: boom" });
    const before = Date.now();
    const busy = await sender().send(delivery, { url: `${base}/busy` }, 5000);
    expect(busy.kind).toBe("retry");
    expect((busy as { retryAtMs: number }).retryAtMs).toBeGreaterThanOrEqual(before + 3000);
    expect(await sender().send(delivery, { url: `${base}/gone` }, 5000)).toEqual({ kind: "gone", error: "webhook answered 410 Gone: no longer wanted: the receiver declined the task; not retried" });
    expect(await sender().send(delivery, { url: `${base}/missing` }, 5000)).toEqual({ kind: "dead", error: "webhook answered 404 Not Found: nope" });
    // A port nothing listens on (the server's own, after closing a second server on it).
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const closedPort = closed.port;
    closed.stop(true);
    const refused = await sender().send(delivery, { url: `http://127.0.0.1:${closedPort}/` }, 5000);
    expect(refused.kind).toBe("retry");
    expect((refused as { error: string }).error).toMatch(/^webhook request failed: .*(ECONNREFUSED|connect)/i);
  });

  test("connections are reused: sequential deliveries share one connection, concurrent ones a few", async () => {
    const s = sender();
    const before = hitsOf("/ok").length;
    for (let i = 0; i < 20; i++) expect((await s.send({ ...delivery, id: `seq-${i}` }, { url: `${base}/ok` }, 5000)).kind).toBe("delivered");
    const sequential = hitsOf("/ok").slice(before);
    expect(sequential.length).toBe(20);
    expect(sequential[0]!.port).toBeGreaterThan(0);
    expect(new Set(sequential.map((hit) => hit.port)).size).toBe(1);
    const mark = hitsOf("/ok").length;
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.send({ ...delivery, id: `par-${i}` }, { url: `${base}/ok` }, 5000)));
    for (let round = 0; round < 3; round++) await Promise.all(Array.from({ length: 50 }, (_, i) => s.send({ ...delivery, id: `par-${round}-${i}` }, { url: `${base}/ok` }, 5000)));
    // 200 deliveries in rounds of 50 at once: at most 50 connections (plus the one before), not 200.
    expect(new Set(hitsOf("/ok").slice(mark).map((hit) => hit.port)).size).toBeLessThanOrEqual(51);
  });

  test("a hanging endpoint is cut at the timeout", async () => {
    const started = performance.now();
    const verdict = await sender().send(delivery, { url: `${base}/hang` }, 300);
    const tookMs = performance.now() - started;
    expect(verdict).toEqual({ kind: "retry", error: "webhook timed out after 300 ms" });
    expect(tookMs).toBeGreaterThanOrEqual(290);
    expect(tookMs).toBeLessThan(5000);
  });

  test("the node's stop signal aborts a delivery in flight", async () => {
    const stop = new AbortController();
    const pending = sender().send(delivery, { url: `${base}/hang` }, 60_000, stop.signal);
    setTimeout(() => stop.abort(new Error("stopping")), 100);
    expect(await pending).toEqual({ kind: "retry", error: "webhook aborted: node stopping" });
  });

  test("a redirect is not followed", async () => {
    const verdict = await sender().send(delivery, { url: `${base}/redirect` }, 5000);
    expect(verdict.kind).toBe("dead");
    expect((verdict as { error: string }).error).toMatch(/302 Found to http:\/\/169\.254\.169\.254\/latest\/; redirects are not followed/);
    expect(hitsOf("/redirect").length).toBe(1);
  });

  test("without a secret nothing is sent", async () => {
    const count = hits.length;
    expect(await sender({ secret: undefined }).send(delivery, { url: `${base}/ok` }, 5000)).toEqual({ kind: "retry", error: "webhook not sent: TICKWHEEL_WEBHOOK_SECRET is not set on this node" });
    expect(hits.length).toBe(count);
  });
});

describe("delivery-time address check", () => {
  const resolver = (table: Record<string, string[]>): HostResolver => async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses;
  };

  test("a name is resolved, checked, and the request goes to the checked address with the name as Host", async () => {
    const s = sender({ resolve: resolver({ "hooks.test": ["127.0.0.1"] }) });
    const verdict = await s.send({ ...delivery, id: "pinned" }, { url: `http://hooks.test:${server.port}/ok` }, 5000);
    expect(verdict).toEqual({ kind: "delivered", result: { received: "pinned" } });
    const hit = hitsOf("/ok").find((h) => JSON.parse(h.body).id === "pinned")!;
    expect(hit.host).toBe(`hooks.test:${server.port}`);
  });

  test("a name that resolves to a metadata address is refused and nothing is sent", async () => {
    const count = hits.length;
    const s = sender({ resolve: resolver({ "innocent.test": ["169.254.169.254"] }) });
    const verdict = await s.send(delivery, { url: `http://innocent.test:${server.port}/ok` }, 5000);
    expect(verdict).toEqual({ kind: "dead", error: "webhook not sent: innocent.test resolved to 169.254.169.254 is a cloud metadata address" });
    expect(hits.length).toBe(count);
  });

  test("a name with one refused address among good ones is refused", async () => {
    const s = sender({ resolve: resolver({ "mixed.test": ["127.0.0.1", "::ffff:169.254.169.254"] }) });
    const verdict = await s.send(delivery, { url: `http://mixed.test:${server.port}/ok` }, 5000);
    expect(verdict.kind).toBe("dead");
    expect((verdict as { error: string }).error).toMatch(/mixed\.test resolved to .*reaches 169\.254\.169\.254\) is a cloud metadata address/);
  });

  test("localhost, through the real resolver, under a policy that refuses loopback", async () => {
    const count = hits.length;
    const s = sender({ policy: parseOutboundPolicy({ deny: "loopback" }) });
    const verdict = await s.send(delivery, { url: `http://localhost:${server.port}/ok` }, 5000);
    expect(verdict.kind).toBe("dead");
    expect((verdict as { error: string }).error).toMatch(/^webhook not sent: localhost resolved to (127\.0\.0\.1|0:0:0:0:0:0:0:1) is loopback, refused by TICKWHEEL_WEBHOOK_DENY$/);
    expect(hits.length).toBe(count);
    // The same URL under the default policy is delivered.
    expect((await sender().send(delivery, { url: `http://localhost:${server.port}/ok` }, 5000)).kind).toBe("delivered");
  });

  test("a name that does not resolve is retried (DNS trouble passes)", async () => {
    const s = sender({ resolve: resolver({}) });
    const verdict = await s.send(delivery, { url: `http://nowhere.test/ok` }, 5000);
    expect(verdict.kind).toBe("retry");
    expect((verdict as { error: string }).error).toMatch(/could not resolve nowhere\.test: .*ENOTFOUND/);
  });

  test("a URL refused by the policy at delivery (it changed since scheduling) is dead, not sent", async () => {
    const s = sender({ policy: parseOutboundPolicy({ deny: "127.0.0.0/8" }) });
    const verdict = await s.send(delivery, { url: `${base}/ok` }, 5000);
    expect(verdict).toEqual({ kind: "dead", error: "webhook not sent: target.url refused: 127.0.0.1 is in 127.0.0.0/8, refused by TICKWHEEL_WEBHOOK_DENY" });
  });
});
