/**
 * The node's Prometheus metrics (prom-client), in a registry of its own so
 * several nodes in one process (tests) never share counters. Counters by task
 * name, a lateness histogram in seconds (Prometheus names carry base units:
 * `promtool check metrics` refuses `_ms`), Redis errors by kind, and gauges read at scrape time (pool,
 * due count per shard). The hot path (a start or an outcome per task) only
 * adds to plain numbers: the labelled counters take them over when the
 * registry is scraped, because prom-client hashes the labels on every inc(),
 * which at 100,000 tasks a second was a tenth of the node's CPU.
 *
 * Task names are labels, and names come from producers: past a cap, new
 * names are counted under "_other" so a flood of distinct names cannot grow
 * the registry without bound.
 */
import { Counter, Gauge, Registry, type Histogram } from "prom-client";
import { Timeline } from "./timeline.ts";
import { BucketHistogram } from "./bucket-histogram.ts";
import { REDIS_ERROR_KINDS, type RedisErrorKind } from "../store/redis-errors.ts";

/** Lateness buckets in ms: fine where tickwheel lives (a few ms), coarse for stalls. */
const LATENESS_BUCKETS_MS = [1, 2, 3, 5, 7, 10, 15, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
/** The same bounds in seconds, as the histogram exports them. */
const LATENESS_BUCKETS_SECONDS = LATENESS_BUCKETS_MS.map((ms) => ms / 1000);
const MAX_TASK_LABELS = 1000;
const OTHER = "_other";

interface MetricsSources {
  inFlight(): number;
  concurrency(): number;
  /** Due count of every shard (read from Redis at scrape time). */
  dueCounts(): Promise<{ shard: number; due: number }[]>;
  ownedShards(): number;
  /** This node's clock minus Redis' (ms), null before the first estimate. */
  clockOffsetMs?(): number | null;
  /** Redis' maxmemory-policy as last read ("unknown" where CONFIG is refused), null before the first check. */
  evictionPolicy?(): { policy: string; evicting: boolean | null } | null;
  /** Threads of the node running under SCHED_FIFO (TICKWHEEL_REALTIME_PRIORITY); 0 when off or refused. */
  realtimeThreads?(): number;
  /** Young collections the node ran (core/gap-collector.ts): in gaps of its timers, and paced while no gap came; 0 when turned off. */
  gapCollections?(): { gap: number; gapless: number; pausedMs: number };
  /** The shard map as this node last read it, and the running resize's slots (moved, total). */
  shardMap?(): { epoch: number; count: number; resizingTo: number | null; slotsMoved: number; slotsTotal: number } | null;
}

type TaskOutcome = "succeeded" | "retried" | "dead";

type CountName = "scheduled" | "fired" | "succeeded" | "failed" | "retried" | "dead" | "parked";
type TaskCounts = Record<CountName, number>;

export class NodeMetrics {
  readonly registry = new Registry();
  readonly timeline = new Timeline();
  /** Counts by task label (the name, or "_other" past the cap). */
  private readonly byName = new Map<string, TaskCounts>();
  private readonly lateness: BucketHistogram;
  private readonly leaseChanges: Counter<"event">;
  private readonly redisErrors: Counter<"kind">;
  private readonly resizeMoved: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const byName = this.byName;
    const byTask = (count: CountName, name: string, help: string) =>
      new Counter({
        name,
        help,
        labelNames: ["task"] as const,
        registers,
        collect() {
          this.reset();
          for (const [task, counts] of byName) if (counts[count] > 0) this.inc({ task }, counts[count]);
        },
      });
    byTask("scheduled", "tickwheel_tasks_scheduled_total", "Tasks created through this node's API, by task name");
    byTask("fired", "tickwheel_tasks_fired_total", "Attempts started by this node, by task name");
    byTask("succeeded", "tickwheel_tasks_succeeded_total", "Attempts that succeeded, by task name");
    byTask("failed", "tickwheel_tasks_failed_total", "Attempts that failed (threw, timed out, or their worker was lost), by task name");
    byTask("retried", "tickwheel_tasks_retried_total", "Failed attempts scheduled again with backoff, by task name");
    byTask("dead", "tickwheel_tasks_dead_total", "Tasks given up on (dead), by task name");
    byTask("parked", "tickwheel_tasks_parked_total", "Due tasks of a paused name handed back unstarted, by task name");
    this.lateness = new BucketHistogram({
      name: "tickwheel_task_lateness_seconds",
      help: "Handler start minus due time, in seconds",
      buckets: LATENESS_BUCKETS_SECONDS,
    });
    // A registry takes any metric that answers get() in prom-client's shape (see BucketHistogram).
    this.registry.registerMetric(this.lateness as unknown as Histogram);
    new Gauge({
      name: "tickwheel_pool_in_flight",
      help: "Attempts running on this node now",
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: "tickwheel_pool_concurrency",
      help: "Worker pool size of this node",
      registers,
      collect() {
        this.set(sources.concurrency());
      },
    });
    new Gauge({
      name: "tickwheel_pool_utilisation",
      help: "Running attempts / pool size (0 … 1)",
      registers,
      collect() {
        this.set(sources.inFlight() / Math.max(1, sources.concurrency()));
      },
    });
    new Gauge({
      name: "tickwheel_shards_owned",
      help: "Shards whose lease this node holds",
      registers,
      collect() {
        this.set(sources.ownedShards());
      },
    });
    new Gauge({
      name: "tickwheel_shard_due",
      help: "Scheduled tasks of each shard, cold tier included (read from Redis at scrape time)",
      labelNames: ["shard"] as const,
      registers,
      async collect() {
        // Redis down: leave the figures out rather than fail the scrape (the other metrics matter most then).
        const counts = await sources.dueCounts().catch(() => null);
        this.reset();
        for (const { shard, due } of counts ?? []) this.set({ shard: String(shard) }, due);
      },
    });
    this.leaseChanges = new Counter({
      name: "tickwheel_lease_changes_total",
      help: "Shard lease changes on this node (acquired, lost, released)",
      labelNames: ["event"] as const,
      registers,
    });
    this.redisErrors = new Counter({
      name: "tickwheel_redis_errors_total",
      help: "Redis errors seen by this node, by kind (oom, readonly, misconf, loading, clusterdown, replica, busy, connection, other)",
      labelNames: ["kind"] as const,
      registers,
    });
    // Every kind from the start: a rate() over a series that appears only with the first error misses it.
    for (const kind of REDIS_ERROR_KINDS) this.redisErrors.inc({ kind }, 0);
    if (sources.clockOffsetMs) {
      const offset = sources.clockOffsetMs;
      new Gauge({
        name: "tickwheel_clock_offset_seconds",
        help: "This node's clock minus Redis' clock (TIME), as estimated from the heartbeat; firing corrects for it",
        registers,
        collect() {
          const ms = offset();
          if (ms === null) this.reset();
          else this.set(ms / 1000);
        },
      });
    }
    if (sources.realtimeThreads) {
      const raised = sources.realtimeThreads;
      new Gauge({
        name: "tickwheel_realtime_threads",
        help: "Threads of this node running under real-time scheduling (SCHED_FIFO, TICKWHEEL_REALTIME_PRIORITY); 0 when it is off or the kernel refused it",
        registers,
        collect() {
          this.set(raised());
        },
      });
    }
    if (sources.gapCollections) {
      const collections = sources.gapCollections;
      new Counter({
        name: "tickwheel_gc_gap_collections_total",
        help: "Young-generation collections this node ran itself (TICKWHEEL_GC_IN_GAPS): mode gap in a gap of its timers, mode gapless every 50 ms while no gap came (high rates)",
        labelNames: ["mode"] as const,
        registers,
        collect() {
          this.reset();
          const { gap, gapless } = collections();
          this.inc({ mode: "gap" }, gap);
          this.inc({ mode: "gapless" }, gapless);
        },
      });
      // The pause those collections cost the node's thread: rate() of it is the share of time no
      // start could run, and divided by the collections' rate, the mean pause.
      new Counter({
        name: "tickwheel_gc_gap_pause_seconds_total",
        help: "Time this node's thread spent in the young collections it ran itself (tickwheel_gc_gap_collections_total): starts due meanwhile waited",
        registers,
        collect() {
          this.reset();
          this.inc(collections().pausedMs / 1000);
        },
      });
    }
    if (sources.evictionPolicy) {
      const policy = sources.evictionPolicy;
      new Gauge({
        name: "tickwheel_redis_evicting",
        help: "1 when Redis' maxmemory-policy may evict tickwheel's keys (tasks vanish when memory fills), 0 when not, -1 when unknown (CONFIG GET refused)",
        labelNames: ["policy"] as const,
        registers,
        collect() {
          this.reset();
          const seen = policy();
          if (seen) this.set({ policy: seen.policy }, seen.evicting === null ? -1 : seen.evicting ? 1 : 0);
        },
      });
    }
    this.resizeMoved = new Counter({
      name: "tickwheel_resize_tasks_moved_total",
      help: "Tasks this node moved to their new shard in resizes (docs/resharding.md)",
      registers,
    });
    const mapFigure = (name: string, help: string, pick: (m: NonNullable<ReturnType<NonNullable<MetricsSources["shardMap"]>>>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const map = sources.shardMap?.();
          if (map) this.set(pick(map));
        },
      });
    mapFigure("tickwheel_shard_map_epoch", "Epoch of the shard map this node uses", (m) => m.epoch);
    mapFigure("tickwheel_shards", "Shard count of the stable map (the source count while resizing)", (m) => m.count);
    mapFigure("tickwheel_resize_target_shards", "Target shard count of the running resize (0 when none runs)", (m) => m.resizingTo ?? 0);
    mapFigure("tickwheel_resize_slots_moved", "Hash slots of the running resize whose tasks have moved", (m) => m.slotsMoved);
    mapFigure("tickwheel_resize_slots_changing", "Hash slots that change shard in the running resize (a gauge: promtool keeps _total for counters)", (m) => m.slotsTotal);
  }

  /** Tasks a resize step of this node moved. */
  resizeMovedTasks(count: number): void {
    this.resizeMoved.inc(count);
  }

  scheduled(name: string, count = 1): void {
    this.counts(name).scheduled += count;
  }

  fired(name: string, latenessMs: number): void {
    this.counts(name).fired++;
    // Seconds: one multiplication, no allocation (the hot path).
    this.lateness.observe(Math.max(0, latenessMs) * 0.001);
    this.timeline.record(latenessMs);
  }

  outcome(name: string, outcome: TaskOutcome): void {
    const counts = this.counts(name);
    if (outcome === "succeeded") {
      counts.succeeded++;
      return;
    }
    counts.failed++;
    if (outcome === "retried") counts.retried++;
    else counts.dead++;
  }

  parked(name: string): void {
    this.counts(name).parked++;
  }

  leaseChange(event: "acquired" | "lost" | "released"): void {
    this.leaseChanges.inc({ event });
  }

  redisError(kind: RedisErrorKind = "connection"): void {
    this.redisErrors.inc({ kind });
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private counts(name: string): TaskCounts {
    const known = this.byName.get(name);
    if (known) return known;
    const label = this.byName.size >= MAX_TASK_LABELS ? OTHER : name;
    let counts = this.byName.get(label);
    if (!counts) {
      counts = { scheduled: 0, fired: 0, succeeded: 0, failed: 0, retried: 0, dead: 0, parked: 0 };
      this.byName.set(label, counts);
    }
    // Names past the cap are not remembered one by one (that would grow without bound): they
    // share the "_other" entry, looked up again each time.
    return counts;
  }
}
