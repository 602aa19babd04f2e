// The schedule batcher on its own (no Redis): which calls of one turn are joined, in what order,
// up to what budget, and how replies and refusals reach each part.
import { expect, test } from "bun:test";
import { ScheduleBatcher, type SchedulePart } from "../../src/store/schedule-batcher.ts";

interface Sent {
  kind: "one" | "many";
  keys: string[];
  argv: (string | number)[];
  answer: (reply: unknown) => void;
  fail: (error: unknown) => void;
}

function recording(): { batcher: ScheduleBatcher; sent: Sent[] } {
  const sent: Sent[] = [];
  const sender = (kind: "one" | "many") => (keys: string[], argv: (string | number)[]) =>
    new Promise<unknown>((answer, fail) => sent.push({ kind, keys, argv, answer, fail }));
  return { batcher: new ScheduleBatcher({ one: sender("one"), many: sender("many") }, 10), sent };
}

const part = (shard: number, tasks: number): SchedulePart => ({ keys: [`due${shard}`, `tasks${shard}`, `cold${shard}`, `epoch${shard}`], argv: [`argv${shard}`, tasks], tasks });

test("the calls of one turn go as one joined call, keys and arguments part after part, each part getting its own reply", async () => {
  const { batcher, sent } = recording();
  const replies = [batcher.run(part(0, 3)), batcher.run(part(1, 2)), batcher.run(part(2, 4))];
  expect(sent).toHaveLength(0); // nothing leaves before the caller's synchronous code is done
  await Promise.resolve();
  expect(sent).toHaveLength(1);
  expect(sent[0]!.kind).toBe("many");
  expect(sent[0]!.keys).toEqual([...part(0, 3).keys, ...part(1, 2).keys, ...part(2, 4).keys]);
  expect(sent[0]!.argv).toEqual(["argv0", 3, "argv1", 2, "argv2", 4]);
  sent[0]!.answer([[], [1, "p", "rec"], [0, "stale", "7"]]);
  expect(await Promise.all(replies)).toEqual([[], [1, "p", "rec"], [0, "stale", "7"]]);
});

test("a part alone goes as the one-shard call; a later turn starts a new call", async () => {
  const { batcher, sent } = recording();
  const first = batcher.run(part(5, 1));
  await Promise.resolve();
  const second = [batcher.run(part(6, 1)), batcher.run(part(7, 1))];
  await Promise.resolve();
  expect(sent.map((s) => s.kind)).toEqual(["one", "many"]);
  expect(sent[0]!.keys).toEqual(part(5, 1).keys);
  sent[0]!.answer(["only"]);
  sent[1]!.answer([["a"], ["b"]]);
  expect(await first).toEqual(["only"]);
  expect(await Promise.all(second)).toEqual([["a"], ["b"]]);
});

test("parts are joined up to the task budget, in order; a part over the budget goes alone", async () => {
  const { batcher, sent } = recording(); // budget 10
  const replies = [part(0, 4), part(1, 6), part(2, 1), part(3, 12), part(4, 5), part(5, 5)].map((p) => batcher.run(p));
  await Promise.resolve();
  // 4+6 = 10 fits; 1 then 12 would pass it; 12 alone; 5+5.
  expect(sent.map((s) => [s.kind, s.argv.filter((_, i) => i % 2 === 0)])).toEqual([
    ["many", ["argv0", "argv1"]],
    ["one", ["argv2"]],
    ["one", ["argv3"]],
    ["many", ["argv4", "argv5"]],
  ]);
  sent[0]!.answer(["r0", "r1"]);
  sent[1]!.answer("r2");
  sent[2]!.answer("r3");
  sent[3]!.answer(["r4", "r5"]);
  expect(await Promise.all(replies)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
});

test("a refused joined call is every one of its parts' refusal, and only theirs; a reply of the wrong shape too", async () => {
  const { batcher, sent } = recording(); // budget 10
  const replies = [part(0, 6), part(1, 4), part(2, 6), part(3, 4)].map((p) => batcher.run(p).then((r) => ({ ok: r }), (e: Error) => ({ error: e.message })));
  await Promise.resolve();
  expect(sent).toHaveLength(2);
  sent[0]!.fail(new Error("OOM command not allowed"));
  sent[1]!.answer([["only one reply"]]);
  expect(await Promise.all(replies)).toEqual([
    { error: "OOM command not allowed" },
    { error: "OOM command not allowed" },
    { error: "schedule-n.lua answered 1 replies for 2 shards" },
    { error: "schedule-n.lua answered 1 replies for 2 shards" },
  ]);
});
