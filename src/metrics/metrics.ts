/**
 * The node's Prometheus metrics (prom-client), in a registry of its own so
 * several nodes in one process (tests) never share counters. Counters by task
 * name, a lateness histogram in ms, and gauges read at scrape time (pool,
 * due count per shard), so the hot path only bumps counters.
 *
 * Task names are labels, and names come from producers: past a cap, new
 * names are counted under "_other" so a flood of distinct names cannot grow
 * the registry without bound.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { Timeline } from "./timeline.ts";

/** Lateness buckets in ms: fine where tickwheel lives (a few ms), coarse for stalls. */
export const LATENESS_BUCKETS_MS = [1, 2, 3, 5, 7, 10, 15, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
const MAX_TASK_LABELS = 1000;
const OTHER = "_other";

export interface MetricsSources {
  inFlight(): number;
  concurrency(): number;
  /** Due count of every shard (read from Redis at scrape time). */
  dueCounts(): Promise<{ shard: number; due: number }[]>;
  ownedShards(): number;
}

export type TaskOutcome = "succeeded" | "retried" | "dead";

/** One task name's labelled counters, looked up once per name (the start path runs per task). */
interface TaskCounters {
  scheduled: { inc(value?: number): void };
  fired: { inc(value?: number): void };
  succeeded: { inc(value?: number): void };
  failed: { inc(value?: number): void };
  retried: { inc(value?: number): void };
  dead: { inc(value?: number): void };
  parked: { inc(value?: number): void };
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly timeline = new Timeline();
  private readonly byName = new Map<string, TaskCounters>();
  private readonly scheduledTotal: Counter<"task">;
  private readonly firedTotal: Counter<"task">;
  private readonly succeededTotal: Counter<"task">;
  private readonly failedTotal: Counter<"task">;
  private readonly retriedTotal: Counter<"task">;
  private readonly deadTotal: Counter<"task">;
  private readonly parkedTotal: Counter<"task">;
  private readonly lateness: Histogram;
  private readonly leaseChanges: Counter<"event">;
  private readonly redisErrors: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const byTask = (name: string, help: string) => new Counter({ name, help, labelNames: ["task"] as const, registers });
    this.scheduledTotal = byTask("tickwheel_tasks_scheduled_total", "Tasks created through this node's API, by task name");
    this.firedTotal = byTask("tickwheel_tasks_fired_total", "Attempts started by this node, by task name");
    this.succeededTotal = byTask("tickwheel_tasks_succeeded_total", "Attempts that succeeded, by task name");
    this.failedTotal = byTask("tickwheel_tasks_failed_total", "Attempts that failed (threw, timed out, or their worker was lost), by task name");
    this.retriedTotal = byTask("tickwheel_tasks_retried_total", "Failed attempts scheduled again with backoff, by task name");
    this.deadTotal = byTask("tickwheel_tasks_dead_total", "Tasks given up on (dead), by task name");
    this.parkedTotal = byTask("tickwheel_tasks_parked_total", "Due tasks of a paused name handed back unstarted, by task name");
    this.lateness = new Histogram({
      name: "tickwheel_task_lateness_ms",
      help: "Handler start minus due time, in milliseconds",
      buckets: LATENESS_BUCKETS_MS,
      registers,
    });
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
    this.redisErrors = new Counter({ name: "tickwheel_redis_errors_total", help: "Redis connection and command errors seen by this node", registers });
  }

  scheduled(name: string, count = 1): void {
    this.counters(name).scheduled.inc(count);
  }

  fired(name: string, latenessMs: number): void {
    this.counters(name).fired.inc();
    this.lateness.observe(Math.max(0, latenessMs));
    this.timeline.record(latenessMs);
  }

  outcome(name: string, outcome: TaskOutcome): void {
    const counters = this.counters(name);
    if (outcome === "succeeded") return counters.succeeded.inc();
    counters.failed.inc();
    if (outcome === "retried") counters.retried.inc();
    else counters.dead.inc();
  }

  parked(name: string): void {
    this.counters(name).parked.inc();
  }

  leaseChange(event: "acquired" | "lost" | "released"): void {
    this.leaseChanges.inc({ event });
  }

  redisError(): void {
    this.redisErrors.inc();
  }

  /** Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private counters(name: string): TaskCounters {
    let counters = this.byName.get(name);
    if (counters) return counters;
    const task = this.byName.size >= MAX_TASK_LABELS ? OTHER : name;
    counters = this.byName.get(task) ?? {
      scheduled: this.scheduledTotal.labels(task),
      fired: this.firedTotal.labels(task),
      succeeded: this.succeededTotal.labels(task),
      failed: this.failedTotal.labels(task),
      retried: this.retriedTotal.labels(task),
      dead: this.deadTotal.labels(task),
      parked: this.parkedTotal.labels(task),
    };
    // Names past the cap are not remembered one by one (that would grow without bound): they
    // share the "_other" entry, looked up again each time.
    if (task === name) this.byName.set(name, counters);
    else if (!this.byName.has(OTHER)) this.byName.set(OTHER, counters);
    return counters;
  }
}
