/**
 * One tickwheel node: composes the store, the shard leases, one actor per
 * owned shard, the worker pool and the HTTP API, and owns their start and
 * stop order.
 *
 * Stop order (SIGTERM): quiet every actor (no more claims), let in-flight
 * tasks finish within the grace period, flush pending acks, release the
 * leases (others take over at once), close Redis, close HTTP.
 */
import { hostname } from "node:os";
import { Store } from "../store/store.ts";
import { Client } from "../client/client.ts";
import { ShardActor } from "../shard/shard-actor.ts";
import { WorkerPool } from "../pool/worker-pool.ts";
import { Completer } from "../pool/completer.ts";
import { ShardOwnership } from "../ownership/shard-ownership.ts";
import { Membership } from "../ownership/membership.ts";
import { NodeAssignment } from "../ownership/node-assignment.ts";
import { figuresByShard, readNodeViews, registryInfo, type ClockView, type NodeView, type RedisView } from "../ownership/node-registry-view.ts";
import { LatencyRecorder } from "../core/latency-histogram.ts";
import { dueMsOfScore } from "../task/model.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "./log.ts";
import { createApp } from "../http/app.ts";
import { NodeMetrics } from "../metrics/metrics.ts";
import type { Job } from "../pool/job.ts";
import { loadTasksModule } from "./load-tasks.ts";
import { RedisTrouble } from "./redis-trouble.ts";
import { RedisClock } from "../core/redis-clock.ts";
import { ClockSkewReporter, SKEW_WARN_MS } from "./clock-skew.ts";
import { EvictionGuard } from "./eviction-guard.ts";
import { readMemoryPolicyAt } from "../store/redis-memory-policy.ts";

export type NodeState = "new" | "running" | "quiet" | "stopped";

export interface ShardInfo {
  shard: number;
  owner: string | null;
  epoch: number | null;
  ownedHere: boolean;
  /** Scheduled tasks, cold ones included. */
  dueCount: number;
  /** Of those, how many wait in the cold tier. */
  coldCount: number;
  inFlight: number;
  dead: number;
  nextDueAt: number | null;
  windowSize: number | null;
  fired: number | null;
  latenessP50Ms: number | null;
  latenessP99Ms: number | null;
}

export class TickwheelNode {
  readonly config: Config;
  readonly nodeId: string;
  readonly log: Logger;
  readonly store: Store;
  readonly client: Client;
  readonly pool: WorkerPool;
  readonly completer: Completer;
  readonly ownership: ShardOwnership;
  /** This node's registry entry and the live node set its shards are assigned from. */
  readonly membership: Membership;
  private readonly assignment = new NodeAssignment();
  /** Node-wide lateness of every started task. */
  readonly lateness = new LatencyRecorder();
  private readonly actors = new Map<number, ShardActor>();
  private shardCount = 0;
  private state: NodeState = "new";
  private server: ReturnType<typeof Bun.serve> | null = null;
  private keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  readonly startedAt = Date.now();
  redisErrors = 0;
  /** Prometheus metrics and the dashboard's per-second timeline. */
  readonly metrics: NodeMetrics = new NodeMetrics({
    inFlight: () => this.pool.inFlight,
    concurrency: () => this.pool.concurrency,
    ownedShards: () => this.actors.size,
    evictionPolicy: () => this.evictionGuard.policy,
    clockOffsetMs: () => this.clock.offsetMs,
    dueCounts: async () => {
      // Redis down: answer at once instead of holding the scrape through the client's retries.
      if (!this.store.ready) throw new Error("redis is not connected");
      const stats = await Promise.all([...Array(this.shardCount).keys()].map((shard) => this.store.shardStats(shard)));
      return stats.map((s) => ({ shard: s.shard, due: s.dueCount }));
    },
  });
  /** Redis errors counted by kind and logged one line per place and kind per interval. */
  readonly redisTrouble: RedisTrouble;
  /** Redis' clock as this node estimates it from its heartbeats: due-time arithmetic and firing use it. */
  readonly clock = new RedisClock();
  private readonly skew: ClockSkewReporter;
  /** Redis' maxmemory-policy: refuses to start on an evicting one unless allowed, checks it again while running. */
  readonly evictionGuard: EvictionGuard;
  /** Paused task names as last read from Redis (refreshed every pauseRefreshMs). */
  private readonly pausedNames = new Set<string>();
  private pauseTimer: ReturnType<typeof setInterval> | null = null;
  private pauseChanges = 0;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.redisTrouble = new RedisTrouble({ log, count: (kind) => this.metrics.redisError(kind) });
    this.skew = new ClockSkewReporter(log);
    this.nodeId = config.nodeId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40)}-${Math.random().toString(36).slice(2, 8)}`;
    this.store = new Store({
      redisUrl: config.redisUrl,
      clusterNodes: config.redisClusterNodes,
      prefix: config.prefix,
      name: `tickwheel-${this.nodeId}`,
      onError: (error) => {
        this.redisErrors++;
        this.redisTrouble.report("connection", error, {}, "redis connection error");
      },
    });
    this.evictionGuard = new EvictionGuard({
      read: () => readMemoryPolicyAt({ redisUrl: config.redisUrl, clusterNodes: config.redisClusterNodes }),
      allowEviction: config.allowEviction,
      log: this.log,
    });
    this.client = new Client({
      store: this.store,
      now: () => this.clock.now(),
      validateKnownTasks: true,
      retentionMs: config.retentionMs,
      defaults: {
        maxAttempts: config.defaultMaxAttempts,
        timeoutMs: config.defaultTimeoutMs,
        backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs },
        maxArgsBytes: config.maxArgsBytes,
      },
    });
    this.completer = new Completer({
      store: this.store,
      log: this.log,
      retentionMs: config.retentionMs,
      deadRetentionMs: config.deadRetentionMs,
      maxResultBytes: config.maxResultBytes,
      onRetryScheduled: (shard, id, score) => this.actors.get(shard)?.hint(id, score),
    });
    this.membership = new Membership({
      store: this.store,
      nodeId: this.nodeId,
      ttlMs: config.leaseTtlMs,
      heartbeatEveryMs: config.leaseRenewMs,
      log: this.log,
      info: () => registryInfo(this),
      onDisplaced: () => void this.stop(),
      onRedisTime: (sentMono, receivedMono, redisNowMs) => {
        this.clock.sample(sentMono, receivedMono, redisNowMs);
        this.skew.check(this.clock);
      },
    });
    this.ownership = new ShardOwnership({
      store: this.store,
      nodeId: this.nodeId,
      ttlMs: config.leaseTtlMs,
      renewEveryMs: config.leaseRenewMs,
      log: this.log,
      heartbeat: () => this.membership.heartbeat(),
      desiredShards: () => this.desiredShards(),
      onAcquired: (shard, token) => this.startActor(shard, token),
      onLost: (shard, token) => this.stopActor(shard, token),
      onHandoff: (shard, token) => this.handOff(shard, token),
      onChange: (event) => this.metrics.leaseChange(event),
    });
    this.pool = new WorkerPool({
      concurrency: config.concurrency,
      completer: this.completer,
      log: this.log,
      canStart: (shard, token) => this.state !== "stopped" && this.ownership.canStart(shard, token),
      onOutcome: (job, outcome) => this.metrics.outcome(job.spec.name, outcome),
      isPaused: (name) => this.pausedNames.size > 0 && this.pausedNames.has(name),
      onPaused: (job) => void this.park(job),
      progress: async (job, value) => {
        await this.store.setProgress(job.shard, job.id, JSON.stringify(value ?? null));
      },
      onStart: (job, latenessMs) => {
        this.metrics.fired(job.spec.name, latenessMs);
        this.lateness.record(latenessMs);
        this.actors.get(job.shard)?.recordStart(latenessMs);
      },
    });
  }

  get currentState(): NodeState {
    return this.state;
  }

  get shards(): number {
    return this.shardCount;
  }

  get url(): string | null {
    return this.server ? `http://${this.config.host === "0.0.0.0" ? "127.0.0.1" : this.config.host}:${this.server.port}` : null;
  }

  /** Ready = Redis reachable, leases renewing, not stopping, and Redis not evicting (unless allowed). */
  get ready(): boolean {
    return this.state === "running" && this.store.ready && this.ownership.healthy && this.evictionGuard.acceptable;
  }

  /** Shown by /ready and in the registry (/admin/nodes): why a node may be unready or at risk. */
  readiness(): { redis: RedisView; clock: ClockView } {
    const policy = this.evictionGuard.policy;
    const offsetMs = this.clock.offsetMs;
    return {
      redis: { maxmemoryPolicy: policy?.policy ?? null, evicting: policy?.evicting ?? null, evictionAllowed: this.config.allowEviction },
      clock: { offsetMs, errorMs: this.clock.errorMs, skewed: offsetMs !== null && Math.abs(offsetMs) > SKEW_WARN_MS },
    };
  }

  async start(): Promise<void> {
    if (this.state !== "new") return;
    // Before anything is written: on an evicting Redis this throws EvictionPolicyError (one line).
    await this.evictionGuard.check();
    const { shards } = await this.store.ensureClusterConfig(this.config.shards, 16, this.config.lookaheadMs, this.config.coldAfterMs);
    this.shardCount = shards;
    // Known before the first claim, so a paused name never starts on a fresh node.
    await this.refreshPaused();
    if (this.config.tasksModule) {
      const path = await loadTasksModule(this.config.tasksModule);
      this.log.info({ tasksModule: path }, "tasks module loaded");
    }
    this.store.onWake((shard, id, score) => this.actors.get(shard)?.hint(id, score));
    // Refuses to start when another live node has this id (DuplicateNodeIdError).
    await this.membership.join();
    this.state = "running";
    await this.ownership.start();
    this.keepaliveTimer = setInterval(() => void this.keepVisibilityAlive(), Math.max(100, Math.floor(this.config.visibilityMs / 3)));
    this.pauseTimer = setInterval(() => void this.refreshPaused().catch(() => {}), this.config.pauseRefreshMs);
    this.evictionGuard.start();
    this.server = Bun.serve({
      port: this.config.port,
      hostname: this.config.host,
      fetch: createApp(this).fetch,
    });
    this.log.info(
      { nodeId: this.nodeId, url: this.url, shards, owned: this.actors.size, concurrency: this.config.concurrency },
      "tickwheel node started",
    );
  }

  /** Graceful stop; idempotent. */
  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "quiet") return;
    const wasRunning = this.state === "running";
    this.state = "quiet";
    // Leave the registry first: the others reassign this node's shards now and take
    // each one the moment its lease is released below.
    await this.membership.leave().catch((error) => this.log.warn({ err: String(error) }, "could not leave the node registry; the entry expires by its TTL"));
    if (wasRunning) {
      this.log.info({ inFlight: this.pool.inFlight, graceMs: this.config.graceMs }, "stopping: no more claims, draining in-flight tasks");
      await Promise.all([...this.actors.values()].map((actor) => actor.quiet()));
      const drained = await this.pool.drain(this.config.graceMs);
      if (!drained) this.log.warn({ inFlight: this.pool.inFlight }, "grace period over; aborted the rest (they run again after their visibility deadline)");
      await this.completer.flush();
    }
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.pauseTimer) clearInterval(this.pauseTimer);
    this.evictionGuard.stop();
    this.redisTrouble.throttle.flush();
    await this.ownership.stop();
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
    this.state = "stopped";
    await this.store.unsubscribeWakes([...Array(this.shardCount).keys()]).catch(() => {});
    await this.store.quit();
    this.server?.stop(true);
    this.log.info("tickwheel node stopped");
  }

  actor(shard: number): ShardActor | undefined {
    return this.actors.get(shard);
  }

  /** Every shard's state as seen from here (Redis counts for all, live figures for the owned). */
  async shardInfo(): Promise<ShardInfo[]> {
    const stats = await Promise.all([...Array(this.shardCount).keys()].map((shard) => this.store.shardStats(shard)));
    const running = this.pool.runningByShard();
    // Shards run elsewhere: fired and lateness as their owner last reported them to the registry.
    const reported = figuresByShard(await this.nodes().catch(() => []));
    return stats.map((s) => {
      const colon = s.leaseToken?.lastIndexOf(":") ?? -1;
      const remote = reported.get(s.shard);
      const actor = this.actors.get(s.shard)?.stats() ??
        (remote && colon > 0 && remote.nodeId === s.leaseToken!.slice(0, colon)
          ? { windowSize: null, fired: remote.fired, latenessP50: remote.latenessP50Ms, latenessP99: remote.latenessP99Ms }
          : undefined);
      return {
        shard: s.shard,
        owner: s.leaseToken && colon > 0 ? s.leaseToken.slice(0, colon) : null,
        epoch: s.leaseToken && colon > 0 ? Number(s.leaseToken.slice(colon + 1)) : null,
        ownedHere: this.actors.has(s.shard),
        dueCount: s.dueCount,
        coldCount: s.coldCount,
        inFlight: this.actors.has(s.shard) ? (running.get(s.shard)?.count ?? 0) : s.runningCount,
        dead: s.deadCount,
        nextDueAt: s.nextDueScore === null ? null : dueMsOfScore(s.nextDueScore),
        windowSize: actor?.windowSize ?? null,
        fired: actor?.fired ?? null,
        latenessP50Ms: actor?.latenessP50 ?? null,
        latenessP99Ms: actor?.latenessP99 ?? null,
      };
    });
  }

  /** Live nodes as the registry shows them (for /admin/nodes). */
  async nodes(): Promise<NodeView[]> {
    return readNodeViews(this.store, this.nodeId);
  }

  /** This node's share of the shards over the live members (nothing until it has joined). */
  private desiredShards(): number[] {
    if (this.state !== "running") return [];
    const members = this.membership.members();
    if (!members) return [];
    return this.assignment.shardsFor(this.nodeId, members, this.shardCount);
  }

  private startActor(shard: number, token: string): void {
    this.actors.get(shard)?.stop();
    const actor = new ShardActor({
      shard,
      leaseToken: token,
      store: this.store,
      pool: this.pool,
      log: this.log,
      lookaheadMs: this.config.lookaheadMs,
      claimAheadMs: this.config.claimAheadMs,
      claimBatch: this.config.claimBatch,
      windowCap: this.config.windowCap,
      visibilityMs: this.config.visibilityMs,
      reapEveryMs: Math.max(100, Math.min(1000, Math.floor(this.config.visibilityMs / 4))),
      refillOffsetMs: Math.floor((shard / Math.max(1, this.shardCount)) * (this.config.lookaheadMs / 2)),
      // A full reload every 5 refills (every 5 s by default) bounds how late a lost hint can make a task.
      fullReloadEvery: 5,
      onLeaseLost: (lostShard, lostToken) => this.ownership.lost(lostShard, lostToken),
      subscribeWakes: () => this.store.subscribeWakes([shard]),
      leaseValid: () => this.ownership.canStart(shard, token),
      cold: { shardCount: this.shardCount, coldAfterMs: this.config.coldAfterMs },
    });
    this.actors.set(shard, actor);
    actor.start();
  }

  private stopActor(shard: number, token: string): void {
    const actor = this.actors.get(shard);
    if (!actor || actor.leaseToken !== token) return;
    actor.stop();
    this.actors.delete(shard);
    void this.store.unsubscribeWakes([shard]).catch(() => {});
  }

  private async handOff(shard: number, token: string): Promise<void> {
    const actor = this.actors.get(shard);
    if (!actor || actor.leaseToken !== token) return;
    await actor.quiet();
    const deadline = Date.now() + this.config.graceMs;
    while (this.pool.runningByShard().has(shard) && Date.now() < deadline) await Bun.sleep(20);
    await this.completer.flush();
    actor.stop();
    if (this.actors.get(shard) === actor) this.actors.delete(shard);
    void this.store.unsubscribeWakes([shard]).catch(() => {});
  }

  /** Applies a pause or resume made through this node at once (other nodes read it within pauseRefreshMs). */
  notePaused(name: string, paused: boolean): void {
    this.pauseChanges++;
    if (paused) this.pausedNames.add(name);
    else this.pausedNames.delete(name);
  }

  private async refreshPaused(): Promise<void> {
    const changesBefore = this.pauseChanges;
    const names = await this.store.pausedNames();
    // A pause or resume through this node while we read: our view is newer; the next round agrees.
    if (this.pauseChanges !== changesBefore) return;
    this.pausedNames.clear();
    for (const name of names.keys()) this.pausedNames.add(name);
  }

  /**
   * A claimed task of a paused name: hand it back to Redis unstarted. If the
   * shard says the name is no longer paused (a resume beat our view), it is
   * requeued at its due time and this node stops treating the name as paused.
   * If the call fails the attempt stays running in its batch and the reaper
   * returns it: late, never lost.
   */
  private async park(job: Job): Promise<void> {
    try {
      const outcome = await this.store.park(job.shard, job.leaseToken, job.id, job.batch, job.spec.name);
      this.completer.settled(job.shard, job.batch);
      if (outcome === "parked") this.metrics.parked(job.spec.name);
      else if (outcome === "requeued") {
        this.pausedNames.delete(job.spec.name);
        this.actors.get(job.shard)?.hint(job.id, job.score);
      }
    } catch (error) {
      this.log.warn({ taskId: job.id, task: job.spec.name, err: String(error) }, "could not park a task of a paused name; the reaper will return it");
    }
  }

  /** Pushes the visibility deadline of running attempts forward so long tasks are not reaped. */
  private async keepVisibilityAlive(): Promise<void> {
    const deadline = Date.now() + this.config.visibilityMs;
    await Promise.all(
      [...this.pool.runningByShard()].map(async ([shard, group]) => {
        try {
          await this.store.extend(shard, group.token, deadline, [...group.batches]);
        } catch (error) {
          this.log.warn({ shard, err: String(error) }, "visibility keepalive failed");
        }
      }),
    );
  }
}
