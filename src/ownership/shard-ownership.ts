/**
 * Shard leases of this node: acquire the shards it should own, renew them
 * well inside the TTL, hand back the ones that now belong to someone else,
 * and notice when one is lost.
 *
 * Fencing has two halves. Redis checks the lease
 * token inside every claim, finish and reap script. Here, the node keeps
 * for each lease the monotonic instant until which it is surely still valid:
 * the moment the last successful renew was *sent* plus the TTL, minus a
 * margin. Redis started the TTL after that moment, so by the time the local
 * validity ends the lease may lapse, never the other way round. A node that
 * was frozen (GC, SIGSTOP, a paused VM) past that instant starts nothing
 * until it has renewed, and if renewing fails the shard is gone.
 *
 * One round: renew what is held, heartbeat the membership (the node's
 * registry entry lapses with its leases, never before them), acquire what
 * this node should own now, hand off what it should not. Rounds run every
 * renew interval, and sooner when something is about to change: when
 * another node's registry entry is due to expire (its shards are reassigned
 * the moment it is gone), and while a wanted shard is still held by another
 * node (handing it over, leaving, or dead with a lease about to lapse), so
 * it is taken soon after it is released. That is what keeps takeover after a
 * kill -9 near the TTL, after a SIGTERM near zero, and the gap in a
 * hand-over short.
 */
import type { Leases } from "../store/leases.ts";
import type { Logger } from "../core/log.ts";
import type { MembershipView } from "./membership.ts";

interface OwnershipOptions {
  store: Leases;
  nodeId: string;
  ttlMs: number;
  renewEveryMs: number;
  log: Logger;
  /** Counts a failed round's Redis error by kind (the round logs it itself, once per distinct error). */
  countError?: (error: unknown) => void;
  /** The shards this node should own now (all of them for a single node). */
  desiredShards: () => Iterable<number>;
  /** A lease was acquired: start the shard's actor. */
  onAcquired: (shard: number, token: string) => void;
  /** A lease was lost (expired, taken, or locally lapsed): stop the actor at once. */
  onLost: (shard: number, token: string) => void;
  /**
   * The shard belongs to another node now: stop claiming and let its running
   * tasks finish; the lease is released once this resolves.
   */
  onHandoff: (shard: number, token: string) => Promise<void>;
  /** Lease changes, for metrics. */
  onChange?: (event: "acquired" | "lost" | "released", shard: number) => void;
  /**
   * Heartbeats this node's registry entry; called once per round after
   * renewing and before acquiring, so desiredShards() sees a fresh view.
   */
  heartbeat?: () => Promise<MembershipView>;
  monotonicNow?: () => number;
}

interface Lease {
  token: string;
  /** Monotonic ms until which this node may act on the shard. */
  validUntil: number;
  handingOff: boolean;
}

type OwnershipState = "new" | "running" | "stopped";

/** Rounds never follow each other closer than this, whatever asks for an early one. */
const MIN_ROUND_GAP_MS = 10;
/**
 * While a wanted shard is held by another node, rounds run this many times per renew interval:
 * a hand-over then leaves the shard unclaimed for at most about a quarter interval after release.
 */
const HELD_RETRIES_PER_RENEW = 4;
/** Wait this long past a predicted expiry (Redis' clock and ours tick apart by a few ms). */
const EXPIRY_SLACK_MS = 15;

/** Node id of a lease token "nodeId:epoch". */
function holderNodeId(token: string): string {
  const colon = token.lastIndexOf(":");
  return colon > 0 ? token.slice(0, colon) : token;
}

export class ShardOwnership {
  private readonly options: OwnershipOptions;
  private readonly monotonicNow: () => number;
  private readonly leases = new Map<number, Lease>();
  /** Live members as of the last heartbeat; null without membership (single node). */
  private members: Set<string> | null = null;
  private state: OwnershipState = "new";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private cycle: Promise<void> = Promise.resolve();
  private readonly handoffs = new Set<Promise<void>>();
  /** Margin for clock drift between the node and Redis and for slow replies. */
  private readonly marginMs: number;
  private lastError: string | null = null;
  /** Ms until the next round should run early (a member expiring, a departed holder's lease lapsing). */
  private nextRoundInMs: number | null = null;

  constructor(options: OwnershipOptions) {
    this.options = options;
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
    this.marginMs = Math.max(50, Math.floor(options.ttlMs / 10));
  }

  /** Runs the first acquisition round before resolving, so a single node owns its shards at once. */
  async start(): Promise<void> {
    if (this.state !== "new") return;
    this.state = "running";
    this.cycle = this.runCycle();
    await this.cycle;
  }

  canStart(shard: number, token: string): boolean {
    const lease = this.leases.get(shard);
    return !!lease && lease.token === token && this.monotonicNow() < lease.validUntil;
  }

  /** Current leases, for /admin and metrics. */
  owned(): Map<number, string> {
    return new Map([...this.leases].map(([shard, lease]) => [shard, lease.token]));
  }

  get healthy(): boolean {
    return this.lastError === null;
  }

  /** Told by an actor whose fenced script was refused: forget the lease now. */
  lost(shard: number, token: string): void {
    const lease = this.leases.get(shard);
    if (!lease || lease.token !== token) return;
    this.leases.delete(shard);
    this.options.onChange?.("lost", shard);
    this.options.onLost(shard, token);
  }

  /** Releases every lease (after the caller drained its work) and stops the loop. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    if (this.timer) clearTimeout(this.timer);
    await this.cycle.catch(() => {});
    // A hand-off under way releases its own lease; wait for it, or the caller could close Redis
    // before that release is sent.
    await Promise.all([...this.handoffs]);
    await Promise.all(
      [...this.leases].map(async ([shard, lease]) => {
        try {
          await this.options.store.release(shard, lease.token);
          this.options.onChange?.("released", shard);
        } catch (error) {
          this.options.log.warn({ shard, err: String(error) }, "could not release lease; it expires by its TTL");
        }
      }),
    );
    this.leases.clear();
  }

  private schedule(): void {
    if (this.state !== "running") return;
    const early = this.nextRoundInMs;
    this.nextRoundInMs = null;
    const delay = early === null ? this.options.renewEveryMs : Math.max(MIN_ROUND_GAP_MS, Math.min(early, this.options.renewEveryMs));
    this.timer = setTimeout(() => {
      this.cycle = this.runCycle();
    }, delay);
  }

  /** Asks for the next round to run within `ms` (the earliest request wins). */
  private roundWithin(ms: number): void {
    this.nextRoundInMs = this.nextRoundInMs === null ? ms : Math.min(this.nextRoundInMs, ms);
  }

  private async runCycle(): Promise<void> {
    try {
      await this.renewAll();
      if (this.state === "running" && this.options.heartbeat) {
        const view = await this.options.heartbeat();
        this.members = new Set(view.members);
        // Reassign the moment another node's entry lapses; a little after, so it has.
        if (view.nextExpiryInMs !== null) this.roundWithin(view.nextExpiryInMs + EXPIRY_SLACK_MS);
      }
      if (this.state === "running") await this.acquireAndHandOff();
      if (this.lastError !== null) this.options.log.info("redis reachable again; leases renewed");
      this.lastError = null;
    } catch (error) {
      const message = String(error);
      this.options.countError?.(error);
      if (message !== this.lastError) this.options.log.warn({ err: message }, "lease round failed; retrying");
      this.lastError = message;
      this.expireLapsed();
    } finally {
      this.schedule();
    }
  }

  private async renewAll(): Promise<void> {
    const { store, ttlMs } = this.options;
    const entries = [...this.leases];
    const sentAt = this.monotonicNow();
    const results = await Promise.allSettled(entries.map(([shard, lease]) => store.renew(shard, lease.token, ttlMs)));
    let failure: unknown = null;
    results.forEach((result, i) => {
      const [shard, lease] = entries[i]!;
      if (this.leases.get(shard) !== lease) return;
      if (result.status === "rejected") {
        failure = result.reason;
      } else if (result.value) {
        lease.validUntil = sentAt + ttlMs - this.marginMs;
      } else {
        this.options.log.warn({ shard, token: lease.token }, "lease lost");
        this.lost(shard, lease.token);
      }
    });
    if (failure !== null) throw failure;
  }

  private async acquireAndHandOff(): Promise<void> {
    const { store, nodeId, ttlMs } = this.options;
    const desired = new Set(this.options.desiredShards());
    const toAcquire = [...desired].filter((shard) => !this.leases.has(shard));
    const sentAt = this.monotonicNow();
    const outcomes = await Promise.all(toAcquire.map((shard) => store.acquire(shard, nodeId, ttlMs)));
    outcomes.forEach((outcome, i) => {
      const shard = toAcquire[i]!;
      if (!outcome.acquired) {
        // Wanted but held: the holder is handing it over (or left, or died, and its lease has
        // yet to be released or lapse). Try again soon rather than a renew interval later: the
        // shard's tasks wait from the moment the holder stops claiming until this node claims.
        const holderIsMember = !this.members || this.members.has(holderNodeId(outcome.holder));
        const lapsesInMs = holderIsMember ? Infinity : outcome.holderTtlMs + EXPIRY_SLACK_MS;
        this.roundWithin(Math.min(lapsesInMs, this.options.renewEveryMs / HELD_RETRIES_PER_RENEW));
        return;
      }
      if (this.state !== "running") {
        void store.release(shard, outcome.token).catch(() => {});
        return;
      }
      this.leases.set(shard, { token: outcome.token, validUntil: sentAt + ttlMs - this.marginMs, handingOff: false });
      this.options.onChange?.("acquired", shard);
      this.options.onAcquired(shard, outcome.token);
    });
    for (const [shard, lease] of this.leases) {
      if (desired.has(shard) || lease.handingOff) continue;
      lease.handingOff = true;
      const handoff = this.handOff(shard, lease).finally(() => this.handoffs.delete(handoff));
      this.handoffs.add(handoff);
    }
  }

  private async handOff(shard: number, lease: Lease): Promise<void> {
    try {
      await this.options.onHandoff(shard, lease.token);
      if (this.leases.get(shard) !== lease) return;
      this.leases.delete(shard);
      await this.options.store.release(shard, lease.token);
      this.options.onChange?.("released", shard);
      this.options.log.info({ shard }, "shard handed off");
    } catch (error) {
      this.options.log.warn({ shard, err: String(error) }, "hand-off release failed; the lease expires by its TTL");
    }
  }

  /** Redis unreachable: a lease whose local validity ran out is treated as lost. */
  private expireLapsed(): void {
    const now = this.monotonicNow();
    for (const [shard, lease] of [...this.leases]) {
      if (now >= lease.validUntil) {
        this.options.log.warn({ shard }, "lease lapsed while redis was unreachable");
        this.lost(shard, lease.token);
      }
    }
  }
}
