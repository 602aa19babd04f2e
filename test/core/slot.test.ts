import { describe, test, expect } from "bun:test";
import { keySlot, SLOT_COUNT } from "../../src/core/slot.ts";
import { ShardMap } from "../../src/core/shard-map.ts";

describe("keySlot", () => {
  test("matches Redis Cluster's known vectors", () => {
    expect(keySlot("123456789")).toBe(0x31c3 % SLOT_COUNT); // the CRC16/XMODEM check value
    expect(keySlot("123456789")).toBe(12739);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bar")).toBe(5061);
    expect(keySlot("")).toBe(0);
  });

  // Expected values below were read from CLUSTER KEYSLOT on redis-server 7 in cluster mode.
  test("hashes only a non-empty {hash tag}", () => {
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{}{bar}")).toBe(8363); // empty first tag: the whole key
    expect(keySlot("foo{{bar}}zap")).toBe(4015); // tag is "{bar"
    expect(keySlot("{bar")).toBe(4015);
    expect(keySlot("foo{bar}{zap}")).toBe(5061); // only the first tag counts
    expect(keySlot("foo{bar")).not.toBe(5061); // no closing brace: the whole key
    expect(keySlot("tw:{7}:due")).toBe(1716);
  });

  test("hashes UTF-8 bytes", () => {
    // "é" is C3 A9 in UTF-8; hashing the UTF-16 code unit (E9) would give another slot.
    expect(keySlot("é")).toBe(10180);
    expect(keySlot("{é}x")).toBe(10180);
  });

  test("always lands in 0..16383", () => {
    for (let i = 0; i < 2_000; i++) {
      const slot = keySlot(`task-${i}`);
      expect(slot >= 0 && slot < SLOT_COUNT && Number.isInteger(slot)).toBe(true);
    }
  });
});

describe("ShardMap.shardOf", () => {
  test("is the slot modulo the shard count", () => {
    expect(new ShardMap(16).shardOf("foo")).toBe(12182 % 16);
    expect(new ShardMap(1).shardOf("foo")).toBe(0);
    expect(new ShardMap(SLOT_COUNT).shardOf("foo")).toBe(12182);
  });

  test("spreads ids over all shards", () => {
    const counts = new Array<number>(16).fill(0);
    const map = new ShardMap(16);
    for (let i = 0; i < 16_000; i++) {
      const shard = map.shardOf(`id-${i}`);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(700);
  });

  test("rejects a shard count outside 1..16384", () => {
    for (const bad of [0, -1, 1.5, 16385, Number.NaN]) expect(() => new ShardMap(bad).shardOf("x")).toThrow(RangeError);
  });
});
