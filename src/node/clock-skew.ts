/**
 * Says when this node's clock differs from Redis' by more than
 * SKEW_WARN_MS. Firing does not depend on it (the node fires by Redis'
 * clock, see core/redis-clock.ts), but a skewed clock is a symptom an
 * operator wants to hear about (NTP not running, a VM resumed from a
 * snapshot), and it skews everything else on the machine. One warning when
 * the offset goes past the bound or moves by more than the bound since the
 * last warning; one info line when it is back within.
 */
import type { RedisClock } from "../core/redis-clock.ts";
import type { Logger } from "../core/log.ts";

/** Beyond this (ms) a node warns about its clock. */
export const SKEW_WARN_MS = 50;

export class ClockSkewReporter {
  private readonly log: Logger;
  /** Offset of the last warning; null while within the bound. */
  private warnedAt: number | null = null;

  constructor(log: Logger) {
    this.log = log;
  }

  check(clock: Pick<RedisClock, "offsetMs" | "errorMs">): void {
    const offsetMs = clock.offsetMs;
    if (offsetMs === null) return;
    if (Math.abs(offsetMs) > SKEW_WARN_MS) {
      if (this.warnedAt !== null && Math.abs(offsetMs - this.warnedAt) <= SKEW_WARN_MS) return;
      this.warnedAt = offsetMs;
      this.log.warn(
        { clockOffsetMs: offsetMs, errorMs: clock.errorMs, boundMs: SKEW_WARN_MS },
        `this node's clock differs from Redis' by ${offsetMs} ms; tasks still fire by Redis' clock, but check NTP on this machine`,
      );
    } else if (this.warnedAt !== null) {
      this.warnedAt = null;
      this.log.info({ clockOffsetMs: offsetMs }, "this node's clock agrees with Redis' again");
    }
  }
}
