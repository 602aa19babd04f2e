/**
 * One tickwheel node: composes the store, the shard leases, one actor per
 * owned shard and the worker pool, and owns their start and stop order.
 * It knows nothing of HTTP: serve-node.ts starts the API in front of it and
 * attaches it here (attachFrontEnd) so the registry advertises its address
 * and stop() closes it last.
 *
 * Stop order (SIGTERM): quiet every actor (no more claims), let in-flight
 * tasks finish within the grace period, flush pending acks, release the
 * leases (others take over at once), close Redis, close the front end.
 */
import { hostname } from "node:os";
import { edenGC } from "bun:jsc";
import { RealtimeThreads } from "./realtime-threads.ts";
import { Store } from "../store/store.ts";
import type { ShardMap } from "../core/shard-map.ts";
import { Client } from "../client/client.ts";
import { ShardActor } from "../shard/shard-actor.ts";
import type { TaskDefaults } from "../task/schedule-input.ts";
import { WorkerPool } from "../pool/worker-pool.ts";
import { Completer } from "../pool/completer.ts";
import { ShardOwnership } from "../ownership/shard-ownership.ts";
import { Membership } from "../ownership/membership.ts";
import { NodeAssignment } from "../ownership/node-assignment.ts";
import { ShardMapWatch } from "../ownership/shard-map-watch.ts";
import { figuresByShard, readNodeViews, registryInfo, type ClockView, type NodeView, type RedisView } from "../ownership/node-registry-view.ts";
import { LatencyRecorder } from "../core/latency-histogram.ts";
import { dueMsOfScore } from "../task/model.ts";
import type { Config } from "../config/config.ts";
import { DEFAULT_SHARDS } from "../config/defaults.ts";
import type { Logger } from "../core/log.ts";
import { NodeMetrics } from "../metrics/metrics.ts";
import type { Job } from "../pool/job.ts";
import { loadTasksModule } from "./load-tasks.ts";
import { RedisTrouble } from "./redis-trouble.ts";
import { RedisClock } from "../core/redis-clock.ts";
import { CoalescingClock } from "../core/coalescing-clock.ts";
import { GapCollector } from "../core/gap-collector.ts";
import { realWheelClock } from "../core/timer-wheel.ts";
import { ClockSkewReporter, SKEW_WARN_MS } from "./clock-skew.ts";
import { EvictionGuard } from "./eviction-guard.ts";
import { readMemoryPolicyAt } from "../store/redis-memory-policy.ts";
import { redisErrorKind } from "../store/redis-errors.ts";
import { LEASE_LOST } from "../store/outcomes.ts";
import { openCelery, type CeleryWiring } from "./celery-wiring.ts";
import { TargetRegistry } from "../pool/targets/registry.ts";
import { webhookTarget } from "../pool/targets/webhook/webhook-delivery.ts";
import { parseOutboundPolicy, type OutboundPolicy } from "../core/outbound-policy.ts";
import type { ShardInfo } from "./shard-info.ts";

type NodeState = "new" | "running" | "quiet" | "stopped";

/** How often the node reads the shard map (a resize started anywhere reaches it within this). */
const SHARD_MAP_WATCH_MS = 500;

/** What serves requests in front of the node (the HTTP API): its address, and how to close it. */
interface FrontEnd {
  readonly url: string;
  close(): void;
}

/** Redis clock probes at start, the gap between them (ms), and one every CLOCK_PROBE_EVERY_MS after (see probeClock). */
const CLOCK_PROBES_AT_START = 8;
const CLOCK_PROBE_GAP_MS = 2;
const CLOCK_PROBE_EVERY_MS = 2_000;
/** How often TICKWHEEL_REALTIME_PRIORITY looks for threads the runtime started since (compiler, pool). */
const REALTIME_RESCAN_MS = 2_000;

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
  /** Task defaults of this node's config: tasks scheduled through it and planted occurrences get them. */
  private readonly taskDefaults: TaskDefaults;
  /** Webhook targets' outbound policy (TICKWHEEL_WEBHOOK_ALLOW/DENY): tasks and planted occurrences. */
  private readonly outboundPolicy: OutboundPolicy;
  /** The cluster's shard map as read at start (an empty stand-in until then). */
  private shardMap: ShardMap | null = null;
  private state: NodeState = "new";
  private frontEnd: FrontEnd | null = null;
  private keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  private clockProbeTimer: ReturnType<typeof setInterval> | null = null;
  /** TICKWHEEL_REALTIME_PRIORITY: the node's threads under SCHED_FIFO; null when off or refused. */
  private realtime: RealtimeThreads | null = null;
  private realtimeTimer: ReturnType<typeof setInterval> | null = null;
  readonly startedAt = Date.now();
  redisErrors = 0;
  /** Prometheus metrics and the dashboard's per-second timeline. */
  readonly metrics: NodeMetrics = new NodeMetrics({
    inFlight: () => this.pool.inFlight,
    concurrency: () => this.pool.concurrency,
    ownedShards: () => this.actors.size,
    evictionPolicy: () => this.evictionGuard.policy,
    clockOffsetMs: () => this.clock.offsetMs,
    realtimeThreads: () => this.realtime?.state.raised ?? 0,
    gapCollections: () => {
      const collector = this.gapCollector;
      return collector
        ? { gap: collector.collections - collector.gaplessCollections, gapless: collector.gaplessCollections, pausedMs: collector.pausedMs }
        : { gap: 0, gapless: 0, pausedMs: 0 };
    },
    shardMap: () =>
      this.shardMap && {
        epoch: this.shardMap.epoch,
        count: this.shardMap.count,
        resizingTo: this.shardMap.resizingTo,
        slotsMoved: this.mapWatch.slotsMoved,
        slotsTotal: this.mapWatch.slotsTotal,
      },
    dueCounts: async () => {
      // Redis down: answer at once instead of holding the scrape through the client's retries.
      if (!this.store.ready) throw new Error("redis is not connected");
      const stats = await Promise.all(this.shardList().map((shard) => this.store.listings.shardStats(shard)));
      return stats.map((s) => ({ shard: s.shard, due: s.dueCount }));
    },
  });
  /** Redis errors counted by kind and logged one line per place and kind per interval. */
  readonly redisTrouble: RedisTrouble;
  /** Redis' clock as this node estimates it from its heartbeats: due-time arithmetic and firing use it. */
  readonly clock = new RedisClock();
  /**
   * The timers of this node's actors and acknowledgements, coalesced per ms
   * (core/coalescing-clock.ts) and reading Redis' time: the wheel, claims,
   * held starts, visibility deadlines and retry due times all run on it.
   */
  private readonly wheelClock = new CoalescingClock(
    { now: () => this.clock.now(), setTimer: realWheelClock.setTimer, clearTimer: realWheelClock.clearTimer },
    { afterFire: () => this.gapCollector?.fired() },
  );
  /** Young-generation collections in the gaps of wheelClock's alarms; null with TICKWHEEL_GC_IN_GAPS=false. */
  private readonly gapCollector: GapCollector | null;
  private readonly skew: ClockSkewReporter;
  /** Redis' maxmemory-policy: refuses to start on an evicting one unless allowed, checks it again while running. */
  readonly evictionGuard: EvictionGuard;
  /** Paused task names as last read from Redis (refreshed every pauseRefreshMs). */
  private readonly pausedNames = new Set<string>();
  private pauseTimer: ReturnType<typeof setInterval> | null = null;
  private pauseChanges = 0;
  /** Follows the shard map through resizes and finishes a resize whose slots have all moved. */
  private readonly mapWatch: ShardMapWatch;
  /** Deliverers by target type: the in-process handler and webhooks, plus Celery when configured (at start). */
  private readonly targets: TargetRegistry;
  private celery: CeleryWiring | null = null;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.redisTrouble = new RedisTrouble({ log, count: (kind) => this.metrics.redisError(kind) });
    this.skew = new ClockSkewReporter(log);
    this.gapCollector = config.gcInGaps
      ? new GapCollector({
          now: () => this.wheelClock.now(),
          nextAlarmMs: () => this.wheelClock.nextAlarmMs(),
          collect: () => void edenGC(),
          busy: () => this.pool.inFlight * 4 > this.pool.concurrency,
          defer: (fn) => setImmediate(fn),
        })
      : null;
    this.nodeId = config.nodeId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40)}-${Math.random().toString(36).slice(2, 8)}`;
    this.store = new Store({
      redisUrl: config.redisUrl,
      clusterNodes: config.redisClusterNodes,
      prefix: config.prefix,
      name: `tickwheel-${this.nodeId}`,
      leanScripts: config.leanScripts,
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
    const outboundPolicy = parseOutboundPolicy({ allow: config.webhookAllow, deny: config.webhookDeny });
    this.outboundPolicy = outboundPolicy;
    this.taskDefaults = {
      maxAttempts: config.defaultMaxAttempts,
      timeoutMs: config.defaultTimeoutMs,
      backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs },
      maxArgsBytes: config.maxArgsBytes,
    };
    this.client = new Client({
      store: this.store,
      now: () => this.clock.now(),
      validateKnownTasks: true,
      webhookPolicy: outboundPolicy,
      retentionMs: config.retentionMs,
      defaults: this.taskDefaults,
    });
    this.completer = new Completer({
      errors: this.redisTrouble,
      clock: this.wheelClock,
      now: () => this.clock.now(),
      store: this.store.attempts,
      log: this.log,
      retentionMs: config.retentionMs,
      deadRetentionMs: config.deadRetentionMs,
      maxResultBytes: config.maxResultBytes,
      onRetryScheduled: (shard, score) => this.actors.get(shard)?.hint([Number(score)]),
    });
    this.membership = new Membership({
      store: this.store.nodes,
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
      store: this.store.leases,
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
      // Renewals and heartbeats: counted by kind here; the round logs each distinct error once.
      countError: (error) => {
        const kind = redisErrorKind(error);
        if (kind !== null) this.metrics.redisError(kind);
      },
    });
    this.mapWatch = new ShardMapWatch({
      store: {
        shardMap: () => this.store.config.shardMap(),
        progress: (map) => this.store.reshard.progress(map),
        finishResize: (epoch, nowMs) => this.store.config.finishResize(epoch, nowMs),
        beginMoves: (epoch) => this.store.config.beginMoves(epoch),
        leased: async (shard) => (await this.store.leases.holder(shard)) !== null,
      },
      log: this.log,
      current: () => this.shardMap!,
      onMap: (map) => {
        this.shardMap = map;
      },
      everyMs: SHARD_MAP_WATCH_MS,
    });
    this.targets = new TargetRegistry([webhookTarget({ secret: config.webhookSecret, policy: outboundPolicy, maxResultBytes: config.maxResultBytes })]);
    this.pool = new WorkerPool({
      now: () => this.clock.now(),
      concurrency: config.concurrency,
      claimDepth: config.claimDepth,
      holdLimit: config.holdLimit,
      visibilityMs: config.visibilityMs,
      targets: this.targets,
      completer: this.completer,
      log: this.log,
      canStart: (shard, token) => this.state !== "stopped" && this.ownership.canStart(shard, token),
      onOutcome: (job, outcome) => this.metrics.outcome(job.spec.name, outcome),
      isPaused: (name) => this.pausedNames.size > 0 && this.pausedNames.has(name),
      onPaused: (job) => void this.park(job),
      progress: async (job, value) => {
        await this.store.tasks.setProgress(job.shard, job.id, JSON.stringify(value ?? null));
      },
      onStart: (job, latenessMs) => {
        this.metrics.fired(job.spec.name, latenessMs);
        this.lateness.record(latenessMs);
        this.actors.get(job.shard)?.recordStart(latenessMs);
      },
    });
  }

  /** Celery's results (TICKWHEEL_CELERY_RESULT_URL), for GET /v1/tasks/:id; null when not configured. */
  get celeryResults(): CeleryWiring["results"] {
    return this.celery?.results ?? null;
  }

  /** How this node hands celery-target tasks over (null: no broker configured). */
  get celeryHandoff(): "one script" | "push, then finish" | null {
    const target = this.celery?.target;
    return target ? (target.atomic ? "one script" : "push, then finish") : null;
  }

  get currentState(): NodeState {
    return this.state;
  }

  /** Number of shards that exist (old and new while resizing; 0 before start). */
  get shards(): number {
    return this.shardMap?.span ?? 0;
  }

  /** The shard map this node uses (null before start). */
  get currentShardMap(): ShardMap | null {
    return this.shardMap;
  }

  private shardList(): number[] {
    return this.shardMap?.shards() ?? [];
  }

  /** The front end's address (advertised in the node registry), null until one is attached. */
  get url(): string | null {
    return this.frontEnd?.url ?? null;
  }

  /** Called once the front end listens; a node stopped meanwhile closes it at once. */
  attachFrontEnd(frontEnd: FrontEnd): void {
    if (this.state === "stopped") return frontEnd.close();
    this.frontEnd = frontEnd;
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
    await this.startRealtime();
    // Before anything is written: on an evicting Redis this throws EvictionPolicyError (one line).
    await this.evictionGuard.check();
    const settings = await this.store.config.ensure({
      wantedShards: this.config.shards,
      fallbackShards: DEFAULT_SHARDS,
      lookaheadMs: this.config.lookaheadMs,
      coldAfterMs: this.config.coldAfterMs,
    });
    const shards = settings.shards.count;
    this.shardMap = settings.shards;
    this.log.info(
      { prefix: this.config.prefix, dataFormat: settings.dataFormat, shards, shardMapEpoch: settings.shards.epoch },
      settings.wroteDataFormat ? "new data: wrote data format and shard map" : "found existing data of a known format",
    );
    // Known before the first claim, so a paused name never starts on a fresh node.
    await this.refreshPaused();
    if (this.config.tasksModule) {
      const path = await loadTasksModule(this.config.tasksModule);
      this.log.info({ tasksModule: path }, "tasks module loaded");
    }
    // Before the first claim, so that celery-target tasks find their deliverer.
    this.celery = await openCelery(this.config, this.store, this.nodeId, this.log, () => this.metrics.redisError());
    if (this.celery?.target) this.targets.register(this.celery.target);
    this.store.wakes.onWake((shard, scores) => this.actors.get(shard)?.hint(scores));
    // Refuses to start when another live node has this id (DuplicateNodeIdError).
    await this.membership.join();
    if (!this.config.redisClusterNodes) {
      await this.probeClock(CLOCK_PROBES_AT_START).catch(() => {});
      this.clockProbeTimer = setInterval(() => void this.probeClock(1).catch(() => {}), CLOCK_PROBE_EVERY_MS);
    }
    this.state = "running";
    await this.ownership.start();
    this.keepaliveTimer = setInterval(() => void this.keepVisibilityAlive(), Math.max(100, Math.floor(this.config.visibilityMs / 3)));
    this.pauseTimer = setInterval(() => void this.refreshPaused().catch(() => {}), this.config.pauseRefreshMs);
    this.evictionGuard.start();
    this.mapWatch.start();
    this.log.info(
      { nodeId: this.nodeId, shards, owned: this.actors.size, concurrency: this.config.concurrency },
      "tickwheel node started",
    );
  }

  /**
   * TICKWHEEL_REALTIME_PRIORITY: every thread of this process under SCHED_FIFO (realtime-threads.ts),
   * and every few seconds the threads the runtime started since. Refused (no permission, not
   * Linux): one warning and the node runs on at normal priority.
   */
  private async startRealtime(): Promise<void> {
    const priority = this.config.realtimePriority;
    if (!priority) return;
    // Loaded only when asked for: a node without the setting never loads bun:ffi.
    const { linuxThreadScheduler } = await import("./linux-threads.ts");
    const scheduler = linuxThreadScheduler();
    if (typeof scheduler === "string") {
      this.log.warn({ priority }, `TICKWHEEL_REALTIME_PRIORITY: ${scheduler}; running at normal priority`);
      return;
    }
    const realtime = new RealtimeThreads(priority, scheduler);
    const state = realtime.apply();
    if (state.raised === 0) {
      this.log.warn(
        { priority, threads: state.threads },
        "TICKWHEEL_REALTIME_PRIORITY: the kernel refused SCHED_FIFO (it needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of at least the priority); running at normal priority",
      );
      return;
    }
    this.realtime = realtime;
    this.log.info({ priority, raised: state.raised, threads: state.threads, refused: state.refused }, "real-time scheduling (SCHED_FIFO) for the node's threads");
    this.realtimeTimer = setInterval(() => realtime.apply(), REALTIME_RESCAN_MS);
    this.realtimeTimer.unref?.();
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
    this.gapCollector?.stop();
    if (this.realtimeTimer) clearInterval(this.realtimeTimer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.clockProbeTimer) clearInterval(this.clockProbeTimer);
    if (this.pauseTimer) clearInterval(this.pauseTimer);
    this.evictionGuard.stop();
    this.redisTrouble.throttle.flush();
    this.mapWatch.stop();
    await this.ownership.stop();
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
    this.state = "stopped";
    await this.store.wakes.unsubscribe(this.shardList()).catch(() => {});
    await this.store.quit();
    await this.celery?.close();
    this.frontEnd?.close();
    this.log.info("tickwheel node stopped");
  }

  actor(shard: number): ShardActor | undefined {
    return this.actors.get(shard);
  }

  /** Every shard's state as seen from here (Redis counts for all, live figures for the owned). */
  async shardInfo(): Promise<ShardInfo[]> {
    const stats = await Promise.all(this.shardList().map((shard) => this.store.listings.shardStats(shard)));
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
    return readNodeViews(this.store.nodes, this.nodeId);
  }

  /** This node's share of the shards over the live members (nothing until it has joined). */
  private desiredShards(): number[] {
    if (this.state !== "running") return [];
    const members = this.membership.members();
    if (!members || !this.shardMap) return [];
    return this.assignment.shardsFor(this.nodeId, members, this.shardMap);
  }

  private startActor(shard: number, token: string): void {
    this.actors.get(shard)?.stop();
    const actor = new ShardActor({
      shard,
      leaseToken: token,
      store: this.store.attempts,
      pool: this.pool,
      log: this.log,
      lookaheadMs: this.config.lookaheadMs,
      claimAheadMs: this.config.claimAheadMs,
      claimBatch: this.config.claimBatch,
      windowCap: this.config.windowCap,
      visibilityMs: this.config.visibilityMs,
      reapEveryMs: Math.max(100, Math.min(1000, Math.floor(this.config.visibilityMs / 4))),
      refillOffsetMs: Math.floor((shard / Math.max(1, this.shards)) * (this.config.lookaheadMs / 2)),
      // A full reload every 5 refills (every 5 s by default) bounds how late a lost hint can make a task.
      fullReloadEvery: 5,
      onLeaseLost: (lostShard, lostToken) => this.ownership.lost(lostShard, lostToken),
      subscribeWakes: () => this.store.wakes.subscribe([shard]),
      leaseValid: () => this.ownership.canStart(shard, token),
      // A shard just taken may hold a dead node's claimed batches: reap them now (a few ms apart
      // across shards), with the live node set that tells whose they are.
      firstReapInMs: shard % 16,
      liveNodes: () => this.membership.members(),
      errors: this.redisTrouble,
      clock: this.wheelClock,
      cold: { shardMap: () => this.shardMap!, coldAfterMs: this.config.coldAfterMs },
      schedules: { store: this.store.schedules, shardMap: () => this.shardMap!, defaults: this.taskDefaults, outboundPolicy: this.outboundPolicy },
      reshard: {
        moves: this.store.reshard,
        shardMap: () => this.shardMap!,
        wakeHorizonMs: this.config.lookaheadMs,
        onMoved: (count) => this.metrics.resizeMovedTasks(count),
      },
    });
    this.actors.set(shard, actor);
    actor.start();
  }


  private stopActor(shard: number, token: string): void {
    const actor = this.actors.get(shard);
    if (!actor || actor.leaseToken !== token) return;
    actor.stop();
    this.actors.delete(shard);
    void this.store.wakes.unsubscribe([shard]).catch(() => {});
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
    void this.store.wakes.unsubscribe([shard]).catch(() => {});
  }

  /** Applies a pause or resume made through this node at once (other nodes read it within pauseRefreshMs). */
  notePaused(name: string, paused: boolean): void {
    this.pauseChanges++;
    if (paused) this.pausedNames.add(name);
    else this.pausedNames.delete(name);
  }

  private async refreshPaused(): Promise<void> {
    const changesBefore = this.pauseChanges;
    const names = await this.store.pauses.pausedNames();
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
      const outcome = await this.store.attempts.park(job.shard, job.leaseToken, job.id, job.batch, job.spec.name);
      this.completer.settled(job.shard, job.batch);
      if (outcome === "parked") this.metrics.parked(job.spec.name);
      else if (outcome === "requeued") {
        this.pausedNames.delete(job.spec.name);
        this.actors.get(job.shard)?.hint([Number(job.score)]);
      }
    } catch (error) {
      this.log.warn({ taskId: job.id, task: job.spec.name, err: String(error) }, "could not park a task of a paused name; the reaper will return it");
    }
  }

  /**
   * Extra readings of Redis' clock for the node's estimate of it
   * (core/redis-clock.ts): a plain TIME has a shorter round trip than the
   * heartbeat script, and the estimate's error, half the shortest round trip
   * seen, is what every held start waits out so none is early by Redis'
   * clock. A few at start (the first claims come right after), then one now
   * and then. Standalone Redis only: in a cluster a keyless TIME may reach a
   * master other than the heartbeat's, whose clock is not the one it reads.
   */
  private async probeClock(times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      const sentMono = performance.now();
      const redisMs = await this.store.time.nowMs();
      this.clock.sample(sentMono, performance.now(), redisMs);
      if (i + 1 < times) await Bun.sleep(CLOCK_PROBE_GAP_MS);
    }
  }

  /** Pushes the visibility deadline of running attempts forward so long tasks are not reaped. */
  private async keepVisibilityAlive(): Promise<void> {
    const deadline = this.clock.now() + this.config.visibilityMs;
    await Promise.all(
      [...this.pool.runningByShard()].map(async ([shard, group]) => {
        // The shard's current lease token when this node holds it: attempts claimed under an
        // earlier token of this node (the lease lapsed under load and was taken back) still run
        // here, and only the current token may extend their batches. Extended under the old token
        // they would be refused, reaped at their deadline and run a second time.
        const token = this.actors.get(shard)?.leaseToken ?? group.token;
        try {
          const outcome = await this.store.attempts.extend(shard, token, deadline, [...group.batches]);
          if (outcome !== LEASE_LOST) this.pool.keptAlive(shard, token, group.batches, deadline, this.clock.now());
        } catch (error) {
          this.log.warn({ shard, err: String(error) }, "visibility keepalive failed");
        }
      }),
    );
  }
}
