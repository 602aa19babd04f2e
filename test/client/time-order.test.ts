// The merge of the shards' pages into one time order (src/client/time-order.ts): pure, no Redis.
import { expect, test } from "bun:test";
import { comparePositions, countUpTo, frontierOf, mergeTimeOrdered } from "../../src/client/time-order.ts";
import type { ListPage } from "../../src/store/outcomes.ts";

const entry = (score: number, id: string) => ({ id, score: String(score), record: "", lastError: null });
const page = (entries: ReturnType<typeof entry>[], next: { score: string; id: string } | null): ListPage => ({ entries, next });

test("positions order by score, then id", () => {
  expect(comparePositions({ score: "1", id: "b" }, { score: "2", id: "a" })).toBeLessThan(0);
  expect(comparePositions({ score: "2.0625", id: "a" }, { score: "2", id: "z" })).toBeGreaterThan(0);
  expect(comparePositions({ score: "2", id: "a" }, { score: "2", id: "b" })).toBeLessThan(0);
});

test("the merge keeps only what comes before every shard's unanswered rest, in order", () => {
  const pages = [
    { shard: 0, page: page([entry(1, "a"), entry(5, "b")], { score: "5", id: "b" }) },
    { shard: 1, page: page([entry(2, "c"), entry(3, "d"), entry(9, "e")], null) },
  ];
  expect(frontierOf(pages)).toEqual({ score: "5", id: "b" });
  expect(countUpTo(pages, { score: "5", id: "b" })).toBe(4);
  const merged = mergeTimeOrdered(pages, 10);
  // 9 is after shard 0's cursor: shard 0 may hold tasks before it, so it waits for the next page.
  expect(merged.entries.map((e) => e.entry.id)).toEqual(["a", "c", "d", "b"]);
  expect(merged.next).toEqual({ score: "5", id: "b" });
});

test("a full page ends at its last entry; exhausted shards end the listing", () => {
  const pages = [
    { shard: 0, page: page([entry(1, "a"), entry(4, "b")], null) },
    { shard: 1, page: page([entry(2, "c"), entry(3, "d")], null) },
  ];
  const full = mergeTimeOrdered(pages, 3);
  expect(full.entries.map((e) => [e.shard, e.entry.id])).toEqual([[0, "a"], [1, "c"], [1, "d"]]);
  expect(full.next).toEqual({ score: "3", id: "d" });
  expect(mergeTimeOrdered(pages, 4).next).toBeNull();
});
