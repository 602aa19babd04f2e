/**
 * Cluster membership: this node's entry in the node registry, kept alive
 * by a heartbeat, and the set of live nodes that shard assignment is
 * computed from. Every node heartbeats once per lease round (the shard
 * ownership loop calls heartbeat()), so a node that stops heartbeating
 * also stops renewing: its registry entry and its leases lapse together.
 *
 * Liveness is judged by Redis' clock inside the heartbeat script, never by
 * comparing the nodes' own clocks. An entry expires ttlMs after its last
 * refresh; the next heartbeat of any node forgets it.
 *
 * One id, one live process: each process registers with a random instance
 * token. At join, an id held by another instance is waited on only as long
 * as that entry stays still (a node killed with -9 and restarted under the
 * same id gets in once the old entry expires); an entry that is refreshed
 * meanwhile belongs to a live node, and join fails with
 * DuplicateNodeIdError.
 */
import type { HeartbeatOutcome } from "../store/outcomes.ts";
import type { NodeRegistry } from "../store/node-registry.ts";
import type { Logger } from "../core/log.ts";

interface MembershipOptions {
  store: NodeRegistry;
  nodeId: string;
  /** Entry lifetime without a refresh (the lease TTL: a node's entry and its leases lapse together). */
  ttlMs: number;
  /** How often the caller heartbeats; bounds how long join waits on a stale entry of the same id. */
  heartbeatEveryMs: number;
  log: Logger;
  /** What the registry shows about this node; evaluated at every heartbeat. */
  info: () => object;
  /** Another process took over this node's id (this one was frozen past its TTL meanwhile). */
  onDisplaced?: (error: DuplicateNodeIdError) => void;
  /**
   * Every heartbeat reads Redis' clock (TIME) in its script: this gets that
   * reading with the monotonic times the call was sent and answered (the
   * node's RedisClock estimates its offset from them).
   */
  onRedisTime?: (sentMono: number, receivedMono: number, redisNowMs: number) => void;
  /** Random per process unless given (tests). */
  instance?: string;
  sleep?: (ms: number) => Promise<void>;
}

export interface MembershipView {
  /** Live node ids, sorted; always includes this node while it is a member. */
  members: string[];
  /** Ms until the earliest entry of another node expires (by Redis' clock), null if there is none. */
  nextExpiryInMs: number | null;
}

export class DuplicateNodeIdError extends Error {
  readonly code = "duplicate_node_id";
  constructor(nodeId: string, holderInfoJson: string) {
    super(`node id "${nodeId}" is already used by a live node${describeHolder(holderInfoJson)}; give each node its own TICKWHEEL_NODE_ID (or leave it unset to generate one)`);
    this.name = "DuplicateNodeIdError";
  }
}

type MembershipState = "new" | "joined" | "displaced" | "left";

export class Membership {
  readonly instance: string;
  private readonly options: MembershipOptions;
  private readonly sleep: (ms: number) => Promise<void>;
  private state: MembershipState = "new";
  private view: MembershipView | null = null;

  constructor(options: MembershipOptions) {
    this.options = options;
    this.instance = options.instance ?? crypto.randomUUID();
    this.sleep = options.sleep ?? ((ms) => Bun.sleep(ms));
  }

  get currentState(): MembershipState {
    return this.state;
  }

  /** Live node ids as of the last heartbeat; null before the first one succeeded. */
  members(): string[] | null {
    return this.view?.members ?? null;
  }

  /**
   * Registers this node. Waits out a stale entry of the same id (a previous
   * incarnation that died); throws DuplicateNodeIdError if the id is held by
   * a node that is alive.
   */
  async join(): Promise<MembershipView> {
    if (this.state === "joined") return this.view!;
    if (this.state !== "new") throw new Error(`membership: cannot join in state ${this.state}`);
    let seenExpiry: number | null = null;
    let deadline = Infinity;
    for (;;) {
      const outcome = await this.register();
      if (outcome.registered) {
        this.state = "joined";
        return this.accept(outcome);
      }
      const { holder, redisNowMs } = outcome;
      // A refreshed entry means its process is heartbeating: a live duplicate.
      if (seenExpiry !== null && holder.expiresAtMs > seenExpiry) throw new DuplicateNodeIdError(this.options.nodeId, holder.infoJson);
      const remainingMs = Math.max(0, holder.expiresAtMs - redisNowMs);
      if (seenExpiry === null) {
        // Long enough to see one refresh of a live holder, or the expiry of a dead one.
        deadline = performance.now() + remainingMs + this.options.heartbeatEveryMs * 2;
        this.options.log.warn(
          { nodeId: this.options.nodeId, remainingMs },
          "node id is registered by another process; waiting to see whether it is still alive",
        );
      }
      if (performance.now() > deadline) throw new DuplicateNodeIdError(this.options.nodeId, holder.infoJson);
      seenExpiry = holder.expiresAtMs;
      await this.sleep(Math.max(10, Math.min(remainingMs + 10, this.options.heartbeatEveryMs / 2)));
    }
  }

  /**
   * Refreshes this node's entry and answers the live members. After leave()
   * (or if displaced) it no longer registers and answers an empty view.
   */
  async heartbeat(): Promise<MembershipView> {
    if (this.state !== "joined") return { members: [], nextExpiryInMs: null };
    const outcome = await this.register();
    if (this.state !== "joined") return { members: [], nextExpiryInMs: null };
    if (!outcome.registered) {
      const error = new DuplicateNodeIdError(this.options.nodeId, outcome.holder.infoJson);
      this.state = "displaced";
      this.view = { members: [], nextExpiryInMs: null };
      this.options.log.error({ nodeId: this.options.nodeId, err: error.message }, "another process took over this node id");
      this.options.onDisplaced?.(error);
      return this.view;
    }
    return this.accept(outcome);
  }

  /** Removes the entry at once so the others reassign this node's shards now (graceful stop). */
  async leave(): Promise<void> {
    if (this.state !== "joined") {
      this.state = "left";
      return;
    }
    this.state = "left";
    this.view = { members: [], nextExpiryInMs: null };
    await this.options.store.leave(this.options.nodeId, this.instance);
  }

  private async register(): Promise<HeartbeatOutcome> {
    const { store, nodeId, ttlMs, info, onRedisTime } = this.options;
    const infoJson = JSON.stringify(info());
    const sentMono = performance.now();
    const outcome = await store.heartbeat(nodeId, this.instance, ttlMs, infoJson);
    onRedisTime?.(sentMono, performance.now(), outcome.redisNowMs);
    return outcome;
  }

  private accept(outcome: Extract<HeartbeatOutcome, { registered: true }>): MembershipView {
    let earliestOther: number | null = null;
    for (const member of outcome.live) {
      if (member.id === this.options.nodeId) continue;
      if (earliestOther === null || member.expiresAtMs < earliestOther) earliestOther = member.expiresAtMs;
    }
    const previous = this.view?.members;
    const members = outcome.live.map((member) => member.id).sort();
    if (previous && previous.join("\n") !== members.join("\n")) {
      this.options.log.info({ members, before: previous }, "cluster membership changed");
    }
    this.view = {
      members,
      nextExpiryInMs: earliestOther === null ? null : Math.max(0, earliestOther - outcome.redisNowMs),
    };
    return this.view;
  }
}

function describeHolder(infoJson: string): string {
  try {
    const info = JSON.parse(infoJson) as { address?: string | null; startedAt?: number; pid?: number; host?: string };
    const parts: string[] = [];
    if (info.address) parts.push(`at ${info.address}`);
    if (info.host) parts.push(`on ${info.host}${info.pid ? ` (pid ${info.pid})` : ""}`);
    if (info.startedAt) parts.push(`started ${new Date(info.startedAt).toISOString()}`);
    return parts.length ? ` (${parts.join(", ")})` : "";
  } catch {
    return "";
  }
}
