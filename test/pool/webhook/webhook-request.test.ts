// The signed request and the meaning of each answer: pure parts of the webhook target.
import { describe, expect, test } from "bun:test";
import { buildWebhookRequest, signWebhook } from "../../../src/pool/targets/webhook/webhook-request.ts";
import { headersProblem } from "../../../src/task/webhook-target.ts";
import { classifyAnswer, parseRetryAfter, type WebhookAnswer } from "../../../src/pool/targets/webhook/webhook-response.ts";

const delivery = { id: "01JTASK", name: "email.send", args: { to: "a@example.com" }, attempt: 2, dueAt: 1_790_000_000_000, firedAt: 1_790_000_000_123 };

describe("request", () => {
  test("body, headers, and a signature that verifies with WebCrypto (the README's JS recipe)", async () => {
    const secret = "whsec_test_0123456789abcdef";
    const { body, headers } = buildWebhookRequest(delivery, secret, { authorization: "Bearer x" });
    expect(JSON.parse(body)).toEqual({ id: "01JTASK", name: "email.send", args: { to: "a@example.com" }, attempt: 2, dueAt: 1_790_000_000_000, firedAt: 1_790_000_000_123 });
    expect(headers).toMatchObject({
      "content-type": "application/json",
      "tickwheel-task-id": "01JTASK",
      "tickwheel-attempt": "2",
      "tickwheel-timestamp": "1790000000",
      authorization: "Bearer x",
    });
    // An independent implementation of the recipe: HMAC-SHA256 over `${timestamp}.${body}`, hex.
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${headers["tickwheel-timestamp"]}.${body}`));
    expect(headers["tickwheel-signature"]).toBe(Buffer.from(mac).toString("hex"));
    expect(headers["tickwheel-signature"]).not.toBe(signWebhook("another secret", headers["tickwheel-timestamp"]!, body));
  });

  test("args absent are sent as null; a target header cannot replace a tickwheel one", () => {
    const { body, headers } = buildWebhookRequest({ ...delivery, args: undefined }, "s".repeat(16), { "x-a": "1" });
    expect(JSON.parse(body).args).toBeNull();
    expect(headers["x-a"]).toBe("1");
  });

  test("target headers: reserved names, bad names and values are refused, naming the header", () => {
    expect(headersProblem({ authorization: "Bearer t", "x-tenant": "7" })).toBeNull();
    expect(headersProblem({ Host: "internal" })).toEqual(["Host", "is set by tickwheel and cannot be given"]);
    expect(headersProblem({ "Tickwheel-Signature": "forged" })?.[0]).toBe("Tickwheel-Signature");
    expect(headersProblem({ "content-length": "1" })?.[0]).toBe("content-length");
    expect(headersProblem({ "bad name": "x" })?.[1]).toMatch(/header name/);
    expect(headersProblem({ "x-a": "a\r\nInjected: yes" })?.[1]).toMatch(/control characters/);
    expect(headersProblem({ "x-a": 5 })?.[1]).toMatch(/string/);
    expect(headersProblem(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-${i}`, "v"])))?.[1]).toMatch(/at most 32/);
  });
});

function answer(status: number, extra: Partial<WebhookAnswer> = {}): WebhookAnswer {
  return { status, statusText: "", retryAfter: null, location: null, bodyText: "", ...extra };
}

describe("answers", () => {
  const now = 1_800_000_000_000;

  test("2xx: delivered, a JSON body is the result, anything else is none", () => {
    expect(classifyAnswer(answer(200, { bodyText: '{"sent":true}' }), now)).toEqual({ kind: "delivered", result: { sent: true } });
    expect(classifyAnswer(answer(204), now)).toEqual({ kind: "delivered", result: undefined });
    expect(classifyAnswer(answer(200, { bodyText: "OK" }), now)).toEqual({ kind: "delivered", result: undefined });
    expect(classifyAnswer(answer(202, { bodyText: null }), now)).toEqual({ kind: "delivered", result: undefined });
  });

  test("410 ends the task, not retried", () => {
    expect(classifyAnswer(answer(410, { statusText: "Gone" }), now)).toEqual({ kind: "gone", error: "webhook answered 410 Gone: the receiver declined the task; not retried" });
  });

  test("408, 429 and 5xx retry, at Retry-After when given", () => {
    expect(classifyAnswer(answer(500, { statusText: "Internal Server Error", bodyText: "boom\n  trace" }), now)).toEqual({ kind: "retry", error: "webhook answered 500 Internal Server Error: boom trace" });
    expect(classifyAnswer(answer(503, { retryAfter: "7" }), now)).toEqual({ kind: "retry", error: "webhook answered 503", retryAtMs: now + 7000 });
    expect(classifyAnswer(answer(429, { retryAfter: "soon" }), now)).toEqual({ kind: "retry", error: "webhook answered 429" });
    expect(classifyAnswer(answer(408), now).kind).toBe("retry");
  });

  test("3xx is not followed and other 4xx are dead, with the status in the error", () => {
    expect(classifyAnswer(answer(302, { location: "http://169.254.169.254/" }), now)).toEqual({
      kind: "dead",
      error: "webhook answered 302 to http://169.254.169.254/; redirects are not followed: set target.url to the final address",
    });
    expect(classifyAnswer(answer(404, { statusText: "Not Found" }), now)).toEqual({ kind: "dead", error: "webhook answered 404 Not Found" });
    const long = classifyAnswer(answer(422, { bodyText: "x".repeat(1000) }), now);
    expect(long.kind).toBe("dead");
    expect((long as { error: string }).error.length).toBeLessThan(260);
  });

  test("Retry-After: seconds, HTTP dates (past ones mean now), garbage", () => {
    expect(parseRetryAfter("0", now)).toBe(now);
    expect(parseRetryAfter(" 120 ", now)).toBe(now + 120_000);
    const at = now + 30_000;
    expect(parseRetryAfter(new Date(at).toUTCString(), now)).toBe(at);
    expect(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now)).toBe(now);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now)).toBe(now);
    expect(parseRetryAfter("-5", now)).toBeNull();
    expect(parseRetryAfter("1.5", now)).toBeNull();
    expect(parseRetryAfter("2030-01-01", now)).toBeNull();
  });
});
