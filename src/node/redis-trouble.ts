/**
 * Where the node reports Redis trouble (a failed acknowledgement, claim,
 * heartbeat, renewal or request): counted by kind in
 * tickwheel_redis_errors_total, and logged through a LogThrottle, so an
 * out-of-memory Redis that refuses thousands of writes a second costs one
 * line per place and kind per interval, with a count, instead of a stack
 * trace each.
 */
import { LogThrottle } from "../core/log-throttle.ts";
import { redisErrorKind, RedisRefusal, type RedisErrorKind } from "../store/redis-errors.ts";
import type { Logger } from "../core/log.ts";

/** One line per place and kind per this many ms: an operator tailing the log sees it within seconds. */
export const REDIS_LOG_INTERVAL_MS = 10_000;

export interface RedisTroubleOptions {
  log: Logger;
  /** Counts one error of a kind (the metric). */
  count: (kind: RedisErrorKind) => void;
  throttle?: LogThrottle;
}

export class RedisTrouble {
  private readonly options: RedisTroubleOptions;
  readonly throttle: LogThrottle;

  constructor(options: RedisTroubleOptions) {
    this.options = options;
    this.throttle = options.throttle ?? new LogThrottle({ intervalMs: REDIS_LOG_INTERVAL_MS });
  }

  /**
   * Reports a failure at `place` (e.g. "finish", "claim", "heartbeat"). A
   * Redis error is counted and logged at warn, throttled per place and kind;
   * anything else is logged at error (throttled per place and message: a
   * bug that repeats still must not flood the log). Answers the kind, null
   * when the error did not come from Redis.
   */
  report(place: string, error: unknown, fields: Record<string, unknown> = {}, message = "redis refused"): RedisErrorKind | null {
    const kind = redisErrorKind(error);
    const { log } = this.options;
    if (kind === null) {
      const text = String((error as Error)?.message ?? error);
      this.throttle.note(`${place}:bug:${text.slice(0, 200)}`, (repeated, intervalMs) =>
        log.error({ place, ...fields, err: String((error as Error)?.stack ?? error), ...(repeated ? { repeated, intervalMs } : {}) }, `${place} failed`),
      );
      return null;
    }
    this.options.count(kind);
    const detail = error instanceof RedisRefusal ? error.detail : String((error as Error)?.message ?? error);
    this.throttle.note(`${place}:${kind}`, (repeated, intervalMs) =>
      log.warn({ place, kind, ...fields, err: detail, ...(repeated ? { repeated, intervalMs } : {}) }, repeated ? `${message} (repeated)` : message),
    );
    return kind;
  }
}
