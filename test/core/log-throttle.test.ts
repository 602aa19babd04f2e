// LogThrottle: the first occurrence of a key is written at once, the rest of its interval is
// counted and written as one line at the interval's end; quiet keys are forgotten. Fake clock.
import { describe, expect, test } from "bun:test";
import { LogThrottle } from "../../src/core/log-throttle.ts";

function harness(intervalMs = 1000) {
  let nowMs = 0;
  const timers: { at: number; run: () => void }[] = [];
  const throttle = new LogThrottle({ intervalMs, now: () => nowMs, setTimer: (run, ms) => timers.push({ at: nowMs + ms, run }) });
  const lines: { key: string; repeated: number; detail: string }[] = [];
  const note = (key: string, detail = "") => throttle.note(key, (repeated) => lines.push({ key, repeated, detail }));
  const advance = (ms: number) => {
    const until = nowMs + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const next = timers[0];
      if (!next || next.at > until) break;
      timers.shift();
      nowMs = next.at;
      next.run();
    }
    nowMs = until;
  };
  return { throttle, lines, note, advance, timers };
}

describe("LogThrottle", () => {
  test("1,500 identical errors a second for 3 s: one line, then one line per interval with the count", () => {
    const { lines, note, advance } = harness(1000);
    for (let ms = 0; ms < 3000; ms++) {
      note("finish:oom", `at ${ms}`);
      if (ms % 2 === 0) note("finish:oom", `at ${ms}`);
      advance(1);
    }
    advance(5000);
    // First line at once; then one per interval, carrying the latest occurrence's details.
    expect(lines.map((l) => l.repeated)).toEqual([0, 1499, 1500, 1500]);
    expect(lines[1]!.detail).toBe("at 999");
    expect(lines.reduce((sum, l) => sum + (l.repeated || 1), 0)).toBe(4500);
  });

  test("keys are independent; a key quiet for an interval is written at once again", () => {
    const { lines, note, advance, throttle } = harness(1000);
    note("claim:oom");
    note("heartbeat:readonly");
    note("claim:oom");
    expect(lines.map((l) => `${l.key}/${l.repeated}`)).toEqual(["claim:oom/0", "heartbeat:readonly/0"]);
    expect(throttle.held("claim:oom")).toBe(1);
    advance(1000);
    expect(lines.map((l) => `${l.key}/${l.repeated}`)).toEqual(["claim:oom/0", "heartbeat:readonly/0", "claim:oom/1"]);
    advance(3000); // quiet: forgotten
    note("claim:oom");
    expect(lines.at(-1)).toEqual({ key: "claim:oom", repeated: 0, detail: "" });
  });

  test("flush writes what is held (at stop)", () => {
    const { lines, note, throttle } = harness(60_000);
    note("ack:oom");
    note("ack:oom");
    note("ack:oom");
    throttle.flush();
    expect(lines.map((l) => l.repeated)).toEqual([0, 2]);
    expect(throttle.held("ack:oom")).toBe(0);
  });
});
