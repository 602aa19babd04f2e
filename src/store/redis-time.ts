/**
 * Redis' clock (TIME), for a producer that has no node's estimate of it: a
 * standalone client reads it to count a `delay` from Redis' now, the clock
 * due times are kept in (core/redis-clock.ts turns readings into an
 * estimate). Nodes read TIME inside their heartbeat script instead.
 */
import type { ScriptRunner } from "./script-runner.ts";
import { asRedisRefusal } from "./redis-errors.ts";

export class RedisTime {
  private readonly runner: ScriptRunner;

  constructor(runner: ScriptRunner) {
    this.runner = runner;
  }

  /** Redis' time now (ms since epoch, with the µs as a fraction). */
  async nowMs(): Promise<number> {
    try {
      const [seconds, micros] = await this.runner.redis.time();
      return Number(seconds) * 1000 + Number(micros) / 1000;
    } catch (error) {
      throw asRedisRefusal(error);
    }
  }
}
