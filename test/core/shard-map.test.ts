// The shard map (src/core/shard-map.ts) is pure: slot -> shard, a shard's slots, the list of shards.
import { describe, expect, test } from "bun:test";
import { ShardMap } from "../../src/core/shard-map.ts";
import { keySlot, SLOT_COUNT } from "../../src/core/slot.ts";

describe("ShardMap", () => {
  test("a slot belongs to slot mod count; an id to the shard of its Redis Cluster slot", () => {
    const map = new ShardMap(16);
    expect(map.count).toBe(16);
    expect(map.epoch).toBe(1);
    expect(map.shardOfSlot(0)).toBe(0);
    expect(map.shardOfSlot(17)).toBe(1);
    expect(map.shardOfSlot(SLOT_COUNT - 1)).toBe((SLOT_COUNT - 1) % 16);
    // CLUSTER KEYSLOT foo = 12182
    expect(map.shardOf("foo")).toBe(12182 % 16);
    expect(new ShardMap(1).shardOf("foo")).toBe(0);
    expect(new ShardMap(SLOT_COUNT).shardOf("foo")).toBe(12182);
    for (let i = 0; i < 200; i++) expect(map.shardOf(`id-${i}`)).toBe(map.shardOfSlot(keySlot(`id-${i}`)));
  });

  test("the shards' slots partition the 16384 hash slots, each slot in the shard that holds it", () => {
    for (const count of [1, 3, 16, 1000]) {
      const map = new ShardMap(count);
      expect(map.shards()).toEqual([...Array(count).keys()]);
      const seen = new Uint8Array(SLOT_COUNT);
      for (const shard of map.shards()) {
        const slots = map.slotsOf(shard);
        expect(slots.length).toBeGreaterThan(0);
        for (let i = 1; i < slots.length; i++) expect(slots[i]!).toBeGreaterThan(slots[i - 1]!);
        for (const slot of slots) {
          expect(map.shardOfSlot(slot)).toBe(shard);
          expect(map.holds(shard, slot)).toBe(true);
          seen[slot]!++;
        }
      }
      expect(seen.every((n) => n === 1)).toBe(true);
    }
  });

  test("holds rejects slots of other shards and anything that is not a hash slot", () => {
    const map = new ShardMap(4);
    expect(map.holds(1, 5)).toBe(true);
    expect(map.holds(1, 6)).toBe(false);
    for (const bad of [-3, SLOT_COUNT + 1, 1.5, Number.NaN]) expect(map.holds(1, bad)).toBe(false);
  });

  test("a count outside 1..16384 or a bad epoch is refused", () => {
    for (const bad of [0, -1, 1.5, SLOT_COUNT + 1, Number.NaN]) expect(() => new ShardMap(bad)).toThrow(RangeError);
    for (const bad of [0, -1, 2.5, Number.NaN]) expect(() => new ShardMap(4, bad)).toThrow(RangeError);
    expect(new ShardMap(4, 7).epoch).toBe(7);
  });
});
