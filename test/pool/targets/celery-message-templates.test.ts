// The templated Celery messages (message-templates.ts) must be buildCeleryMessage's messages byte
// for byte, fail with the same errors, and fall back to the full build when a target's own text
// could be mistaken for a cut mark. (The real worker runs buildCeleryMessage's output:
// celery-message.test.ts; the target pushes the templated one: celery-target.test.ts.)
import { describe, expect, test } from "bun:test";
import { buildCeleryMessage, celeryMessageProblem, DEFAULT_TRANSPORT, type CeleryMessageInput, type CeleryTransportOptions } from "../../../src/pool/targets/celery/message.ts";
import { CeleryMessageTemplates } from "../../../src/pool/targets/celery/message-templates.ts";

const ORIGIN = "tickwheel@test";

function both(input: Omit<CeleryMessageInput, "origin">, transport: CeleryTransportOptions = DEFAULT_TRANSPORT, templates = new CeleryMessageTemplates(transport, ORIGIN)) {
  const full = (() => {
    try {
      return buildCeleryMessage({ ...input, origin: ORIGIN }, transport);
    } catch (error) {
      return error as Error;
    }
  })();
  const templated = (() => {
    try {
      return templates.build(
        { task: input.task, queue: input.queue, priority: input.priority, kwargs: input.kwargs, kwargsJson: JSON.stringify(input.kwargs) },
        input.id,
        input.args,
        input.deliveryTag,
        input.expiresAtMs,
      );
    } catch (error) {
      return error as Error;
    }
  })();
  return { full, templated };
}

const base = (overrides: Partial<CeleryMessageInput> = {}): Omit<CeleryMessageInput, "origin"> => ({
  id: `t-${crypto.randomUUID()}`,
  task: "tw.add",
  args: [2, 3],
  kwargs: {},
  queue: "celery",
  priority: 0,
  deliveryTag: crypto.randomUUID(),
  expiresAtMs: null,
  ...overrides,
});

describe("templated Celery messages", () => {
  test("are buildCeleryMessage's text for every kind of target and task, from one shared template cache", () => {
    const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, ORIGIN);
    const inputs = [
      base(),
      base({ args: [] }),
      base({ args: [1, "é", { nested: [null, true, 1.5] }, "quote \" backslash \\ newline \n tab \t"] }),
      base({ kwargs: { to: "a@b.c", n: 7, deep: { x: [1, 2] } }, queue: "bridgeq", priority: 4 }),
      base({ priority: 9, queue: "urgent" }),
      base({ expiresAtMs: Date.UTC(2027, 0, 1, 9) }),
      base({ args: ["x".repeat(5000)] }), // argsrepr cut at its bound
      base({ id: 'id with "quotes" and \u2028 separator' }),
      base({ task: "app.tasks.send_email", args: ["😀", 2 ** 53] }),
      base({ kwargs: { name: "Zoë" }, args: [1] }), // ASCII args, non-ASCII kwargs: the body is not base64'd as Latin-1
      // Bodies whose head (`[` + args json) is 0, 1 and 2 bytes past a multiple of 3: the
      // template's base64 of the body's tail is joined at each of its three cut points.
      ...[1, 2, 3, 4, 5, 6].map((n) => base({ args: ["x".repeat(n)], kwargs: { n } })),
    ];
    // Twice over, so the second round is built from cached templates.
    for (const round of [1, 2]) {
      for (const input of inputs) {
        const { full, templated } = both({ ...input, deliveryTag: `${input.deliveryTag}-${round}` }, DEFAULT_TRANSPORT, templates);
        expect(full).not.toBeInstanceOf(Error);
        expect(templated).toEqual(full);
        expect(celeryMessageProblem((templated as { envelope: string }).envelope)).toBeNull();
      }
    }
    // One template per target, every message made from one.
    expect(templates.counts).toEqual({ templated: inputs.length * 2, full: 0 });
  });

  test("follow the transport's key prefix and priority steps", () => {
    const transport = { keyPrefix: "tenantA:", prioritySep: ":", prioritySteps: [0, 5] };
    for (const priority of [0, 4, 5, 9]) {
      const { full, templated } = both(base({ priority }), transport);
      expect(templated).toEqual(full);
    }
  });

  test("fail with the full build's error, field named, for a target or a task that cannot make a valid message", () => {
    const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, ORIGIN);
    const cases: [Partial<CeleryMessageInput>, string][] = [
      [{ task: "has space" }, "task"],
      [{ queue: "" }, "queue"],
      [{ priority: 10 }, "priority"],
      [{ kwargs: [] as unknown as Record<string, unknown> }, "kwargs"],
      [{ id: "" }, "id"],
      [{ expiresAtMs: Number.NaN }, "expiresAt"],
    ];
    for (const round of [1, 2]) {
      for (const [overrides, field] of cases) {
        const { full, templated } = both(base(overrides), DEFAULT_TRANSPORT, templates);
        expect(full).toBeInstanceOf(Error);
        expect(templated).toBeInstanceOf(Error);
        expect((templated as { field?: string }).field).toBe(field);
        expect((templated as Error).message).toBe((full as Error).message);
      }
      void round;
    }
  });

  test("a delivery tag that would need escaping is built in full, escaped", () => {
    const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, ORIGIN);
    const { full, templated } = both(base({ deliveryTag: 'tag "with" quotes' }), DEFAULT_TRANSPORT, templates);
    expect(templated).toEqual(full);
    expect(JSON.parse((templated as { envelope: string }).envelope).properties.delivery_tag).toBe('tag "with" quotes');
    expect(templates.counts.full).toBe(1);
  });

  test("a target whose own text holds a cut mark is built in full, and is still right", () => {
    const sneaky = { note: "\u0001tw-slot-id", other: "\u0001tw-slot-body" };
    const templates = new CeleryMessageTemplates(DEFAULT_TRANSPORT, ORIGIN);
    for (let i = 0; i < 3; i++) {
      const { full, templated } = both(base({ kwargs: sneaky }), DEFAULT_TRANSPORT, templates);
      expect(templated).toEqual(full);
      const envelope = JSON.parse((templated as { envelope: string }).envelope);
      expect(JSON.parse(Buffer.from(envelope.body, "base64").toString("utf8"))[1]).toEqual(sneaky);
    }
    expect(templates.counts).toEqual({ templated: 0, full: 3 });
  });
});
