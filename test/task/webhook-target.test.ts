// Schedule-time validation of a webhook target: every refusal names its field.
import { describe, expect, test } from "bun:test";
import { TickwheelError } from "../../src/task/errors.ts";
import { DEFAULT_OUTBOUND_POLICY, parseOutboundPolicy } from "../../src/core/outbound-policy.ts";
import { validateWebhookTarget } from "../../src/task/webhook-target.ts";

function fieldOf(raw: Record<string, unknown>, policy = DEFAULT_OUTBOUND_POLICY): [string | undefined, string] {
  try {
    validateWebhookTarget(raw, policy);
  } catch (error) {
    expect(error).toBeInstanceOf(TickwheelError);
    return [(error as TickwheelError).field, (error as TickwheelError).message];
  }
  throw new Error("expected a refusal");
}

describe("webhook target validation", () => {
  test("a valid target comes back normalized", () => {
    expect(validateWebhookTarget({ type: "webhook", url: "HTTPS://Hooks.Example.com/a b?x=1", headers: { authorization: "Bearer t" }, timeoutMs: 5000 }, DEFAULT_OUTBOUND_POLICY)).toEqual({
      type: "webhook",
      url: "https://hooks.example.com/a%20b?x=1",
      headers: { authorization: "Bearer t" },
      timeoutMs: 5000,
    });
    // The decimal form of a loopback address is stored as the address it means.
    expect(validateWebhookTarget({ type: "webhook", url: "http://2130706433:8080/" }, DEFAULT_OUTBOUND_POLICY).url).toBe("http://127.0.0.1:8080/");
  });

  test("refusals name target.url, target.headers.<name>, target.timeoutMs or the unknown field", () => {
    expect(fieldOf({ type: "webhook", url: "http://169.254.169.254/" })).toEqual(["target.url", "target.url: refused: 169.254.169.254 is a cloud metadata address"]);
    expect(fieldOf({ type: "webhook" })[0]).toBe("target.url");
    expect(fieldOf({ type: "webhook", url: "http://127.0.0.1/" }, parseOutboundPolicy({ deny: "loopback" }))[1]).toMatch(/loopback, refused by TICKWHEEL_WEBHOOK_DENY/);
    expect(fieldOf({ type: "webhook", url: "http://x.example/", headers: { Host: "y" } })[0]).toBe("target.headers.Host");
    expect(fieldOf({ type: "webhook", url: "http://x.example/", headers: ["a"] })[0]).toBe("target.headers");
    expect(fieldOf({ type: "webhook", url: "http://x.example/", timeoutMs: 0 })[0]).toBe("target.timeoutMs");
    expect(fieldOf({ type: "webhook", url: "http://x.example/", timeoutMs: 1.5 })[0]).toBe("target.timeoutMs");
    expect(fieldOf({ type: "webhook", url: "http://x.example/", method: "GET" })[0]).toBe("target.method");
  });
});
