/**
 * Refuses or shouts on a Redis that may evict tickwheel's keys.
 *
 * At start the node reads Redis' maxmemory-policy: anything but noeviction
 * stops the start with one line saying what to change, unless
 * TICKWHEEL_ALLOW_EVICTION accepts the risk (then it warns). Where CONFIG
 * GET is refused (managed services) the policy is "unknown": the node warns
 * once and starts. While running it checks again every CHECK_EVERY_MS and
 * logs (at error) when the policy became evicting; /ready answers 503 then
 * (unless allowed), and /ready, /admin/nodes and tickwheel_redis_evicting
 * show the policy throughout.
 */
import type { MemoryPolicy } from "../store/redis-memory-policy.ts";
import type { Logger } from "../core/log.ts";

/** How often a running node reads the policy again: an operator's CONFIG SET shows within a minute. */
export const CHECK_EVERY_MS = 60_000;

export class EvictionPolicyError extends Error {
  readonly code = "redis_evicting";
  constructor(policy: string) {
    super(
      `Redis maxmemory-policy is "${policy}": when its memory fills, Redis deletes keys and scheduled tasks vanish. ` +
        `Set it to noeviction (CONFIG SET maxmemory-policy noeviction, and maxmemory-policy noeviction in redis.conf), ` +
        `or set TICKWHEEL_ALLOW_EVICTION=true to run anyway and accept the loss`,
    );
    this.name = "EvictionPolicyError";
  }
}

export interface EvictionGuardOptions {
  read: () => Promise<MemoryPolicy>;
  allowEviction: boolean;
  log: Logger;
  checkEveryMs?: number;
}

export class EvictionGuard {
  private readonly options: EvictionGuardOptions;
  private seen: MemoryPolicy | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: EvictionGuardOptions) {
    this.options = options;
  }

  /** The policy as last read; null before the first read. */
  get policy(): MemoryPolicy | null {
    return this.seen;
  }

  /** False while Redis may evict and the risk was not accepted (/ready answers 503). */
  get acceptable(): boolean {
    return this.seen?.evicting !== true || this.options.allowEviction;
  }

  /** The start check: throws EvictionPolicyError on an evicting policy unless allowed. */
  async check(): Promise<MemoryPolicy> {
    const policy = await this.options.read();
    this.seen = policy;
    const { log, allowEviction } = this.options;
    if (policy.evicting === true) {
      if (!allowEviction) throw new EvictionPolicyError(policy.policy);
      log.warn({ maxmemoryPolicy: policy.policy }, "Redis may evict keys (TICKWHEEL_ALLOW_EVICTION is set): tasks can vanish when its memory fills");
    } else if (policy.evicting === null) {
      log.warn(
        { maxmemoryPolicy: "unknown", reason: policy.reason },
        "cannot read Redis' maxmemory-policy (CONFIG GET refused); make sure it is noeviction, or tasks can vanish when its memory fills",
      );
    }
    return policy;
  }

  /** Checks again every checkEveryMs until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.recheck(), this.options.checkEveryMs ?? CHECK_EVERY_MS);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async recheck(): Promise<void> {
    let policy: MemoryPolicy;
    try {
      policy = await this.options.read();
    } catch {
      return; // Redis unreachable: the other loops report it; the next check reads again.
    }
    const before = this.seen;
    this.seen = policy;
    if (policy.evicting === true && (before?.evicting !== true || before.policy !== policy.policy)) {
      this.options.log.error(
        { maxmemoryPolicy: policy.policy, allowed: this.options.allowEviction },
        new EvictionPolicyError(policy.policy).message,
      );
    } else if (policy.evicting === false && before?.evicting === true) {
      this.options.log.info({ maxmemoryPolicy: policy.policy }, "Redis no longer evicts keys");
    }
  }
}
