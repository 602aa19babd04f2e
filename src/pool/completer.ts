/**
 * Ends attempts in Redis. Acks (and dead and expired finishes) coalesce for
 * a few milliseconds per shard into one fenced finish script, because at
 * thousands of tasks a second one round trip per task would be the limit.
 * A failed flush is kept and tried again: an attempt that is never
 * finished comes back through the reaper, so retrying here only saves a
 * duplicate run, and giving up loses nothing.
 *
 * It also keeps count of each claimed batch's attempts whose end has not
 * reached Redis yet. Once all of a batch's have, the batch's own entries
 * (its visibility deadline, its list of ids) go with the next finish. A
 * batch with an attempt that never ends here (dropped on a lost lease, or a
 * retry that failed) is never sent: the reaper finds it at its deadline and
 * returns what is still running in it.
 */
import { encodeFinalTail, finalExtraJsonText } from "../task/codec.ts";
import { LEASE_LOST, type FinishItem } from "../store/outcomes.ts";
import { sharedClock } from "../core/coalescing-clock.ts";
import type { WheelClock } from "../core/timer-wheel.ts";
import type { Logger } from "../core/log.ts";
import type { ErrorReporter } from "../core/log-throttle.ts";
import type { Job } from "./job.ts";
import { decideAttempt, type AttemptDecision } from "./outcome-policy.ts";
import type { CompleterStore, PoolCompleter } from "./ports.ts";
import type { AttemptOutcome } from "./targets/target.ts";

export interface CompleterOptions {
  store: CompleterStore;
  log: Logger;
  /** How long finished tasks' state and result stay readable. */
  retentionMs: number;
  /** How long dead tasks stay listed and retryable. */
  deadRetentionMs: number;
  /** Results larger than this (JSON bytes) are not stored; the task still succeeds. */
  maxResultBytes: number;
  /** Told when a retry lands back in `due`, so the owning actor can wake for it. */
  onRetryScheduled: (shard: number, score: string) => void;
  now?: () => number;
  random?: () => number;
  /** Timer source for the ack flush (the node's shared coalescing clock by default). */
  clock?: WheelClock;
  /** Failed acknowledgements and retries go here (counted, throttled) instead of one log line each. */
  errors?: ErrorReporter;
}

/**
 * Acks wait at least FLUSH_DELAY_MS and are then sent at the next multiple of
 * FLUSH_GRID_MS (epoch ms), through the shared coalescing clock: the shard
 * actors' claims run on the same 5 ms grid (with the default claimAheadMs),
 * so finishes and claims leave in one write and their replies come back in
 * one read. On this VM every event-loop wakeup costs the node ~50-100 µs of
 * CPU, more than the Redis call it serves. An ack's delay changes nothing but
 * how soon the final state is readable.
 */
const FLUSH_DELAY_MS = 3;
const FLUSH_GRID_MS = 5;
/**
 * While the node finishes from BUSY_FINISHES_PER_MS to FULL_FINISHES_PER_MS attempts a millisecond
 * (2,000 to 30,000 a second), acks wait for a grid of FLUSH_GRID_BUSY_MS instead: at 20,000 tasks a
 * second over 16 shards a 5-ms grid meant 3,200 finish scripts a second of about 6 attempts each,
 * and a script's own cost was most of what Redis spent per task. The claim slices widen the same
 * way (claimSliceMs). Above that rate a 5-ms flush already carries hundreds of attempts, and
 * waiting longer only made each script longer, holding up the claims queued behind it in Redis
 * (a 100,000-task burst at concurrency 1,000 ran 10-20 % slower; a Celery hand-off burst runs at
 * 35,000-50,000 a second, so the bound is below it). The cost is that a final state
 * is readable up to 25 ms later, and a node that crashes leaves up to 25 ms more of ended attempts
 * for the reaper to run again.
 */
const FLUSH_GRID_BUSY_MS = 25;
const FLUSH_DELAY_BUSY_MS = 15;
const BUSY_FINISHES_PER_MS = 2;
const FULL_FINISHES_PER_MS = 30;
/** Flush at once beyond this many pending finishes of one shard. */
const FLUSH_BATCH = 500;
const RETRY_FLUSH_MS = 250;
/**
 * A batch whose attempts all ended has only bookkeeping left in Redis (its
 * deadline and id list): it waits for the shard's next finish, or this long.
 * At a few tasks per batch, a call of its own per batch was a third of all
 * finish calls.
 */
const DONE_FLUSH_MS = 1000;

/** Finishes of one shard and lease token on their way to one finish script. */
interface PendingBatch {
  token: string;
  items: FinishItem[];
  /** Claimed batches whose every attempt has ended. */
  doneBatches: string[];
}

/** Attempts of a claimed batch whose end has not reached Redis yet. */
interface OpenBatch {
  token: string;
  open: number;
}

export class Completer implements PoolCompleter {
  private readonly options: CompleterOptions;
  private readonly now: () => number;
  private readonly pending = new Map<number, PendingBatch>();
  private flushTimer: unknown = null;
  private doneTimer: unknown = null;
  private readonly clock: WheelClock;
  private readonly inFlight = new Set<Promise<void>>();
  /** Keyed by openKey(shard, batch). */
  private readonly openBatches = new Map<string, OpenBatch>();
  /** The last finish time and its text (see enqueue). */
  private lastFinishedAt = NaN;
  private lastFinishedAtText = "";
  /** Attempts flushed since, and the time of, the start of the current rate sample (see armFlush). */
  private flushedSince = 0;
  private rateSampleAtMs = -Infinity;
  private busy = false;
  /** Counters for metrics and /admin. */
  readonly counts = { succeeded: 0, retried: 0, dead: 0, expired: 0, staleAcks: 0, finished: 0, unavailable: 0 };
  /** Names this node already warned it cannot deliver (one log line per name, not per task). */
  private readonly unavailableNames = new Set<string>();

  constructor(options: CompleterOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.clock = options.clock ?? sharedClock;
  }

  /**
   * An attempt ended with `outcome`: asks the outcome policy what follows and
   * records it (a retry's write is awaited by flush()). Answers the decision.
   */
  ended(job: Job, outcome: AttemptOutcome): AttemptDecision {
    // The common case first, without the policy's call: a success is its own decision.
    if (outcome.kind === "succeeded") {
      this.succeeded(job, outcome.result);
      return outcome;
    }
    const decision = decideAttempt(job, outcome, this.now(), this.options.random);
    switch (decision.kind) {
      case "succeeded":
        this.succeeded(job, decision.result, decision.note);
        break;
      case "dead":
        this.dead(job, decision.error);
        break;
      case "settled":
        this.settled(job.shard, job.batch);
        break;
      case "retry": {
        const write = this.retry(job, decision);
        this.inFlight.add(write);
        void write.finally(() => this.inFlight.delete(write));
        break;
      }
    }
    return decision;
  }

  succeeded(job: Job, result: unknown, note?: string): void {
    let lastError = note;
    // Serialized once: the size check and the final record use the same text.
    let resultJson = result === undefined ? undefined : safeJson(result);
    // A UTF-16 unit is at most 3 UTF-8 bytes: most results are far under the bound, uncounted.
    if (resultJson !== undefined && resultJson.length * 3 > this.options.maxResultBytes) {
      const bytes = Buffer.byteLength(resultJson);
      if (bytes > this.options.maxResultBytes) {
        resultJson = undefined;
        lastError = `result not stored: ${bytes} bytes is over the ${this.options.maxResultBytes}-byte limit`;
      }
    }
    this.counts.succeeded++;
    this.enqueue(job, "succeeded", resultJson, lastError, this.options.retentionMs);
  }

  expired(job: Job): void {
    this.counts.expired++;
    this.enqueue(job, "expired", undefined, `expired at ${new Date(job.spec.expiresAt ?? 0).toISOString()} before it could start`, this.options.retentionMs);
  }

  dead(job: Job, error: string): void {
    this.counts.dead++;
    this.options.log.error(
      { taskId: job.id, task: job.spec.name, attempt: job.attempt, err: error, shard: job.shard },
      "task dead",
    );
    this.enqueue(job, "dead", undefined, error, this.options.deadRetentionMs);
  }

  /**
   * Puts the task back in `due` at the decision's score. An attempt that does
   * not count (unavailable here) is written back as not used up.
   */
  async retry(job: Job, decision: Extract<AttemptDecision, { kind: "retry" }>): Promise<void> {
    const { score, error, delayMs, countsAttempt } = decision;
    if (countsAttempt) {
      this.options.log.warn({ taskId: job.id, task: job.spec.name, attempt: job.attempt, err: error, retryInMs: delayMs }, "task failed, will retry");
    } else if (!this.unavailableNames.has(job.spec.name)) {
      this.unavailableNames.add(job.spec.name);
      this.options.log.warn(
        { task: job.spec.name, target: job.spec.target.type, err: error },
        "cannot deliver tasks of this name on this node; they wait (no attempt used) for a node that can",
      );
    }
    try {
      const outcome = await this.options.store.retry(job.shard, job.leaseToken, job.id, job.batch, countsAttempt ? job.attempt : job.attempt - 1, score, error);
      this.settled(job.shard, job.batch);
      if (outcome === true) {
        if (countsAttempt) this.counts.retried++;
        else this.counts.unavailable++;
        this.options.onRetryScheduled(job.shard, score);
      } else {
        this.counts.staleAcks++;
      }
    } catch (redisError) {
      // The attempt stays in its batch and the reaper brings it back: late, not lost.
      if (this.options.errors) this.options.errors.report("retry", redisError, { taskId: job.id }, "could not record retry; the reaper will return the task");
      else this.options.log.error({ taskId: job.id, err: String(redisError) }, "could not record retry; the reaper will return the task");
    }
  }

  /** A claim of `count` attempts came back as `batch` (see claim-6.lua). */
  claimedBatch(shard: number, token: string, batch: string, count: number): void {
    if (count > 0) this.openBatches.set(openKey(shard, batch), { token, open: count });
  }

  /**
   * The end of `count` of the batch's attempts reached Redis (finish, retry
   * or park answered, stale or not). The last one queues the batch's own
   * entries for deletion with the next finish of its shard.
   */
  settled(shard: number, batch: string, count = 1): void {
    const key = openKey(shard, batch);
    const open = this.openBatches.get(key);
    if (!open || (open.open -= count) > 0) return;
    this.openBatches.delete(key);
    this.pendingFor(shard, open.token).doneBatches.push(batch);
    // Not worth a call of its own: it goes with the shard's next finishes, or after DONE_FLUSH_MS.
    if (!this.doneTimer) {
      this.doneTimer = this.clock.setTimer(() => {
        this.doneTimer = null;
        this.flushNow();
      }, DONE_FLUSH_MS);
    }
  }

  /** An attempt of the batch will not end here (lease lost): the reaper deals with the batch. */
  abandon(shard: number, batch: string): void {
    this.openBatches.delete(openKey(shard, batch));
  }

  /** Resolves once everything queued so far reached Redis (or was given up as stale). */
  async flush(): Promise<void> {
    this.flushNow();
    while (this.inFlight.size > 0 || this.pending.size > 0) {
      await Promise.all([...this.inFlight]);
      if (this.pending.size > 0) this.flushNow();
    }
  }

  get pendingCount(): number {
    let n = 0;
    for (const batch of this.pending.values()) n += batch.items.length;
    return n;
  }

  /** `resultJson`: the result as JSON text (already checked against maxResultBytes), or undefined for none. */
  private enqueue(job: Job, state: FinishItem["state"], resultJson: string | undefined, lastError: string | undefined, ttlMs: number): void {
    const finishedAt = this.now();
    if (finishedAt !== this.lastFinishedAt) {
      this.lastFinishedAt = finishedAt;
      this.lastFinishedAtText = String(finishedAt);
    }
    // Only what the node knows goes to Redis; the finish script joins the final record around the
    // spec it already has (finish-7.lua). A whole-ms score is the due time's text already.
    const dueAt = job.score.includes(".") ? String(job.dueMs) : job.score;
    const extra = lastError === undefined && resultJson === undefined ? "" : finalExtraJsonText(lastError, resultJson);
    const finalTail = encodeFinalTail(job.attempt, dueAt, this.lastFinishedAtText, extra);
    const item: FinishItem = { id: job.id, batch: job.batch, state, finishedAt, finalTail, ttlMs };
    const batch = this.pendingFor(job.shard, job.leaseToken);
    batch.items.push(item);
    if (batch.items.length >= FLUSH_BATCH) {
      this.pending.delete(job.shard);
      this.send(job.shard, batch);
    } else if (!this.flushTimer) {
      this.armFlush();
    }
  }

  /** The shard's pending finishes for this token (those of an older token go out first). */
  private pendingFor(shard: number, token: string): PendingBatch {
    let batch = this.pending.get(shard);
    if (!batch || batch.token !== token) {
      if (batch) this.send(shard, batch);
      batch = { token, items: [], doneBatches: [] };
      this.pending.set(shard, batch);
    }
    return batch;
  }

  private armFlush(): void {
    const nowMs = this.clock.now();
    // The finish rate, sampled over at least 100 ms: busy (not a burst) picks the wider grid.
    const sampledMs = nowMs - this.rateSampleAtMs;
    if (sampledMs >= 100) {
      const perMs = this.flushedSince / sampledMs;
      this.busy = perMs >= BUSY_FINISHES_PER_MS && perMs < FULL_FINISHES_PER_MS;
      this.flushedSince = 0;
      this.rateSampleAtMs = nowMs;
    }
    const grid = this.busy ? FLUSH_GRID_BUSY_MS : FLUSH_GRID_MS;
    const atMs = Math.ceil((nowMs + (this.busy ? FLUSH_DELAY_BUSY_MS : FLUSH_DELAY_MS)) / grid) * grid;
    this.flushTimer = this.clock.setTimer(() => {
      this.flushTimer = null;
      this.flushNow(false);
    }, atMs - nowMs);
  }

  /** Sends what is pending; a shard with nothing but ended batches waits unless `all`. */
  private flushNow(all = true): void {
    if (this.flushTimer) this.clock.clearTimer(this.flushTimer);
    this.flushTimer = null;
    if (all && this.doneTimer) {
      this.clock.clearTimer(this.doneTimer);
      this.doneTimer = null;
    }
    for (const [shard, batch] of [...this.pending]) {
      if (!all && batch.items.length === 0) continue;
      this.pending.delete(shard);
      this.send(shard, batch);
    }
  }

  private send(shard: number, batch: PendingBatch): void {
    this.flushedSince += batch.items.length;
    const done = this.options.store
      .finish(shard, batch.token, this.now(), this.options.deadRetentionMs, batch.items, batch.doneBatches)
      .then((outcome) => {
        if (outcome === LEASE_LOST) {
          this.counts.staleAcks += batch.items.length;
          for (const item of batch.items) this.openBatches.delete(openKey(shard, item.batch));
          if (batch.items.length > 0) this.options.log.warn({ shard, count: batch.items.length }, "lease lost before ack; those tasks will run again elsewhere");
          return;
        }
        // `finished`: attempts whose end is recorded in Redis (the benchmark's "last completion").
        for (const finished of outcome) {
          if (finished) this.counts.finished++;
          else this.counts.staleAcks++;
        }
        // Items of one batch are mostly adjacent: settle runs of them at once.
        const items = batch.items;
        for (let i = 0; i < items.length; ) {
          let j = i + 1;
          while (j < items.length && items[j]!.batch === items[i]!.batch) j++;
          this.settled(shard, items[i]!.batch, j - i);
          i = j;
        }
      })
      .catch((error) => {
        if (this.options.errors) this.options.errors.report("ack", error, { shard, count: batch.items.length }, "ack failed; retrying");
        else this.options.log.error({ shard, count: batch.items.length, err: String(error) }, "ack failed; retrying");
        setTimeout(() => {
          const current = this.pending.get(shard);
          if (current && current.token === batch.token) {
            current.items.push(...batch.items);
            current.doneBatches.push(...batch.doneBatches);
          } else if (!current) this.pending.set(shard, batch);
          else this.send(shard, batch);
          if (!this.flushTimer) this.armFlush();
        }, RETRY_FLUSH_MS);
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

function openKey(shard: number, batch: string): string {
  return `${shard}:${batch}`;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
