import { describe, expect, test } from "bun:test";
import { occurrenceId, parseOccurrenceId } from "../../src/task/occurrence-id.ts";
import { keySlot } from "../../src/core/slot.ts";

describe("occurrenceId", () => {
  test("is derived from name and time only, and reads back", () => {
    const at = Date.parse("2027-03-28T01:00:00Z");
    const id = occurrenceId("nightly-report", at);
    expect(id).toBe(occurrenceId("nightly-report", at));
    expect(id.startsWith("nightly-report@2027-03-28T01:00:00.000Z~")).toBe(true);
    expect(parseOccurrenceId(id)).toEqual({ schedule: "nightly-report", atMs: at });
  });

  test("lands on its schedule's hash slot (so on its shard) for every name and time", () => {
    for (let i = 0; i < 5000; i++) {
      const name = `tenant-${i}.sync:${i % 7}`;
      const atMs = 1_800_000_000_000 + i * 7_919;
      const id = occurrenceId(name, atMs);
      expect(keySlot(id)).toBe(keySlot(name));
    }
  });

  test("differs for different times and names (no two occurrences share an id)", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) ids.add(occurrenceId("a", 1_800_000_000_000 + i * 200));
    for (let i = 0; i < 2000; i++) ids.add(occurrenceId("b", 1_800_000_000_000 + i * 200));
    expect(ids.size).toBe(4000);
  });

  test("needs no escaping in a URL path", () => {
    const id = occurrenceId("x.y_z:1-2", Date.parse("2027-01-01T00:00:00.250Z"));
    expect(encodeURIComponent(id).replaceAll("%3A", ":").replaceAll("%40", "@")).toBe(id);
    expect(new URL(`http://h/v1/tasks/${id}`).pathname).toBe(`/v1/tasks/${id}`);
  });

  test("an ordinary id that only looks like one is not taken for an occurrence", () => {
    const real = occurrenceId("report", Date.parse("2027-01-01T00:00:00Z"));
    const digits = real.slice(-6);
    const forged = real.slice(0, -6) + (digits === "000000" ? "000001" : "000000");
    expect(parseOccurrenceId(forged)).toBeNull();
    expect(parseOccurrenceId("01JBX8Z0000000000000000000")).toBeNull();
    expect(parseOccurrenceId("report@yesterday~000000")).toBeNull();
  });
});
