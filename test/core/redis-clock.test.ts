// RedisClock: Redis' time from heartbeat readings, the best (shortest round trip) recent sample,
// monotonic time in between; the wall clock only shows as the offset. Fake clocks.
import { describe, expect, test } from "bun:test";
import { RedisClock } from "../../src/core/redis-clock.ts";

function harness(skewMs: number) {
  // "real" is Redis' (true) time; the node's wall clock runs skewMs ahead; monotonic starts at 0.
  let real = 1_800_000_000_000;
  let mono = 0;
  const clock = new RedisClock({ monotonic: () => mono, wall: () => real + skewMs, keepMs: 10_000 });
  const advance = (ms: number) => {
    real += ms;
    mono += ms;
  };
  /** A heartbeat whose request takes upMs and reply downMs; Redis reads TIME in between. */
  const heartbeat = (upMs: number, downMs: number) => {
    const sent = mono;
    advance(upMs);
    const redisMs = real;
    advance(downMs);
    clock.sample(sent, mono, redisMs);
  };
  return { clock, advance, heartbeat, real: () => real };
}

describe("RedisClock", () => {
  test("before a sample it is the wall clock; after one, Redis' time whatever the wall clock says", () => {
    const { clock, heartbeat, advance, real } = harness(1500);
    expect(clock.synced).toBe(false);
    expect(clock.now()).toBe(real() + 1500);
    expect(clock.offsetMs).toBeNull();
    heartbeat(1, 1);
    expect(clock.synced).toBe(true);
    expect(clock.offsetMs).toBe(1500);
    advance(12_345);
    // Never ahead of Redis, behind by at most the error (half the round trip).
    expect(clock.now()).toBeLessThanOrEqual(real());
    expect(real() - clock.now()).toBeLessThanOrEqual(1 + 1);
  });

  test("an asymmetric round trip errs by at most half of it, and now() is never ahead", () => {
    const { clock, heartbeat, real, advance } = harness(-700);
    heartbeat(9, 1); // Redis read late in a 10 ms round trip
    advance(3);
    expect(clock.errorMs).toBe(5);
    expect(clock.now()).toBeLessThanOrEqual(real());
    expect(real() - clock.now()).toBeLessThanOrEqual(10);
    expect(Math.abs(clock.offsetMs! - -700)).toBeLessThanOrEqual(5);
  });

  test("keeps the fastest recent sample; drops samples older than keepMs", () => {
    const { clock, heartbeat, advance, real } = harness(50);
    heartbeat(20, 20);
    heartbeat(0.1, 0.1);
    heartbeat(30, 1);
    expect(clock.errorMs).toBe(0.1);
    expect(real() - clock.now()).toBeLessThanOrEqual(1);
    advance(11_000); // the fast one ages out; the next heartbeat's slow sample takes over
    heartbeat(4, 4);
    expect(clock.errorMs).toBe(4);
    expect(clock.now()).toBeLessThanOrEqual(real());
  });

  test("a step of the node's wall clock (NTP, resume from snapshot) does not move Redis' time", () => {
    let wall = 1_000;
    let mono = 0;
    const clock = new RedisClock({ monotonic: () => mono, wall: () => wall });
    clock.sample(0, 0.2, 5_000.1);
    mono += 100;
    wall += 100;
    const before = clock.now();
    wall += 3_600_000;
    expect(clock.now()).toBe(before);
    expect(clock.offsetMs).toBe(1_000 + 100 + 3_600_000 - 5_100);
  });
});
