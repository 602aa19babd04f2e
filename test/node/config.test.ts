// The cold horizon setting: default, off, and refused values that would let the wheel reach a task
// before the promoter moved it out of the cold tier.
import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/config/config.ts";
import { DEFAULT_COLD_AFTER_MS } from "../../src/config/defaults.ts";

const base = { REDIS_URL: "redis://127.0.0.1:6379" };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("TICKWHEEL_COLD_AFTER_MS", () => {
  test("defaults to 15 minutes; 0 turns the cold tier off", () => {
    expect(loadConfig(base).coldAfterMs).toBe(DEFAULT_COLD_AFTER_MS);
    expect(DEFAULT_COLD_AFTER_MS).toBe(900_000);
    expect(loadConfig({ ...base, TICKWHEEL_COLD_AFTER_MS: "0" }).coldAfterMs).toBe(0);
    expect(loadConfig({ ...base, TICKWHEEL_COLD_AFTER_MS: "6000" }).coldAfterMs).toBe(6000);
  });

  test("below 3 x the look-ahead is refused with the variable and what it expected", () => {
    const error = refusal({ TICKWHEEL_COLD_AFTER_MS: "5000" });
    expect(error.env).toBe("TICKWHEEL_COLD_AFTER_MS");
    expect(error.message).toContain("expected 0 (no cold tier) or at least 6000");
    expect(error.message).toContain("got 5000");
    // A shorter look-ahead allows a shorter horizon, never under 3 s.
    expect(loadConfig({ ...base, TICKWHEEL_LOOKAHEAD_MS: "1000", TICKWHEEL_COLD_AFTER_MS: "3000" }).coldAfterMs).toBe(3000);
    expect(refusal({ TICKWHEEL_LOOKAHEAD_MS: "100", TICKWHEEL_COLD_AFTER_MS: "2000" }).message).toContain("at least 3000");
  });

  test("not a number is refused", () => {
    expect(refusal({ TICKWHEEL_COLD_AFTER_MS: "soon" }).message).toContain("expected an integer");
  });
});

describe("webhook settings", () => {
  test("secret, allow and deny lists are read; bad values name the variable and the entry", () => {
    const config = loadConfig({ ...base, TICKWHEEL_WEBHOOK_SECRET: "s".repeat(16), TICKWHEEL_WEBHOOK_ALLOW: "10.0.0.0/8, *.example.com", TICKWHEEL_WEBHOOK_DENY: "private" });
    expect(config).toMatchObject({ webhookSecret: "s".repeat(16), webhookAllow: "10.0.0.0/8, *.example.com", webhookDeny: "private" });
    expect(loadConfig(base).webhookSecret).toBeUndefined();
    expect(refusal({ TICKWHEEL_WEBHOOK_SECRET: "short" }).env).toBe("TICKWHEEL_WEBHOOK_SECRET");
    const deny = refusal({ TICKWHEEL_WEBHOOK_DENY: "private,nearby" });
    expect(deny.env).toBe("TICKWHEEL_WEBHOOK_DENY");
    expect(deny.message).toContain('"nearby" is not a CIDR');
    expect(refusal({ TICKWHEEL_WEBHOOK_ALLOW: "10.0.0.0/99" }).env).toBe("TICKWHEEL_WEBHOOK_ALLOW");
  });
});
