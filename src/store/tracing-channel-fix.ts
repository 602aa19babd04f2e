/**
 * Node's TracingChannel has `hasSubscribers` (true when any of its five
 * channels has a subscriber); Bun 1.4.5's has not. ioredis 6 traces a command
 * unless `hasSubscribers === false`, so under Bun it traced every one: an
 * extra promise, a diagnostics publish and its arguments sanitised (every
 * argument turned to a string) per command, with nobody listening. This
 * gives Bun's TracingChannel the getter Node has, with Node's meaning, so a
 * real subscriber (an APM agent) still gets its traces. Imported by
 * connection.ts, before any connection is opened; a no-op where the getter
 * exists.
 */
import diagnostics from "node:diagnostics_channel";

interface TracingChannelLike {
  start: { hasSubscribers: boolean };
  end: { hasSubscribers: boolean };
  asyncStart: { hasSubscribers: boolean };
  asyncEnd: { hasSubscribers: boolean };
  error: { hasSubscribers: boolean };
}

function fixTracingChannel(): void {
  if (typeof diagnostics.tracingChannel !== "function") return;
  const prototype = Object.getPrototypeOf(diagnostics.tracingChannel("tickwheel:probe")) as object;
  if ("hasSubscribers" in prototype) return;
  Object.defineProperty(prototype, "hasSubscribers", {
    configurable: true,
    get(this: TracingChannelLike): boolean {
      return this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers || this.asyncEnd.hasSubscribers || this.error.hasSubscribers;
    },
  });
}

fixTracingChannel();
