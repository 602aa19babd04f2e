// A task's target in its record: the handler (the default) is not written, so handler records stay
// byte-for-byte as before targets were stored; another target is written and decoded on claim;
// only known target shapes pass the boundary, with errors naming the field.
import { ShardMap } from "../../src/core/shard-map.ts";
import { expect, test } from "bun:test";
import { decodeSpec, encodeSpec, HANDLER_TARGET, viewOfRecord, decodeRecord } from "../../src/task/codec.ts";
import { resolveTask, DEFAULT_TASK_DEFAULTS } from "../../src/task/schedule-input.ts";
import { TickwheelError } from "../../src/task/errors.ts";
import type { TaskSpec } from "../../src/task/model.ts";

const context = { nowMs: 1_800_000_000_000, shards: new ShardMap(16), defaults: DEFAULT_TASK_DEFAULTS, requireTime: false };

test("a handler task's record is what it was before targets were stored", () => {
  const implicit = resolveTask("mail.send", { to: "a" }, { id: "t-1", runAt: 1_800_000_100_000 }, context);
  const explicit = resolveTask("mail.send", { to: "a" }, { id: "t-1", runAt: 1_800_000_100_000, target: { type: "handler" } }, context);
  expect(implicit.specJson).toBe('{"n":"mail.send","a":{"to":"a"},"c":1800000000000}');
  expect(explicit.specJson).toBe(implicit.specJson);
  // Decoded, it is the shared handler target (the pool's fast path recognises it by identity).
  expect(decodeSpec(implicit.specJson).target).toBe(HANDLER_TARGET);
});

test("another target is written (before the creation time) and decoded as stored", () => {
  // Issue 11's shapes are not accepted at the boundary yet; the codec carries any target as is.
  const target = { type: "webhook", url: "https://example.test/hook", timeoutMs: 5_000 } as unknown as TaskSpec["target"];
  const spec: TaskSpec = { ...decodeSpec('{"n":"hook","c":5}'), target };
  const json = encodeSpec(spec);
  expect(json).toBe('{"n":"hook","d":{"type":"webhook","url":"https://example.test/hook","timeoutMs":5000},"c":5}');
  expect(decodeSpec(json).target).toEqual(target as never);
  const view = viewOfRecord("h-1", 3, "scheduled", decodeRecord(`0:100\n${json}`), null, null);
  expect(view.target).toEqual(target as never);
});

test("the view shows the handler target of a handler task", () => {
  const task = resolveTask("mail.send", undefined, { id: "t-2" }, context);
  const view = viewOfRecord("t-2", task.shard, "scheduled", decodeRecord(task.record), null, null);
  expect(view.target).toEqual({ type: "handler" });
});

test("unknown target shapes are refused with an error naming the field", () => {
  const fieldOf = (target: unknown) => {
    try {
      resolveTask("x", undefined, { target: target as never }, context);
      return "accepted";
    } catch (error) {
      expect(error).toBeInstanceOf(TickwheelError);
      expect((error as TickwheelError).code).toBe("invalid_input");
      return (error as TickwheelError).field;
    }
  };
  expect(fieldOf({ type: "smtp", to: "ops@example.test" })).toBe("target.type");
  // The webhook target exists since issue 11: accepted when valid, refused naming its field otherwise.
  expect(fieldOf({ type: "webhook", url: "https://example.test" })).toBe("accepted");
  expect(fieldOf({ type: "webhook", url: "http://169.254.169.254/" })).toBe("target.url");
  expect(fieldOf({})).toBe("target.type");
  expect(fieldOf("handler")).toBe("target");
  expect(fieldOf(null)).toBe("target");
  expect(fieldOf({ type: "handler", url: "x" })).toBe("target.url");
});

test("each spec carries its own name when names alternate between calls", () => {
  // encodeSpecWithArgs keeps the last name's JSON: a stale one would give a task another's name.
  const names = ["a", 'quote"d', "a", "ünïcode", "b", "b", "a"];
  for (const name of names) {
    const { specJson } = resolveTask(name, { n: 1 }, { id: "t-2", runAt: 1_800_000_100_000 }, context);
    expect(decodeSpec(specJson).name).toBe(name);
    expect(JSON.parse(specJson).n).toBe(name);
  }
});
