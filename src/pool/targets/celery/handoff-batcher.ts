/**
 * Same-server Celery hand-offs, coalesced: the deliveries started in one
 * turn of the event loop (a claim's tasks start together at their due
 * millisecond) go to Redis as one celery-handoff script call per shard, not
 * one per task. Each delivery's promise settles with its outcome for the
 * pool: SETTLED once the script answered (the task's end is recorded in
 * Redis, or its batch was reaped and it runs again through the reaper), or
 * what the target makes of a Redis error (the broker is down: unavailable).
 */
import type { LeaseLost } from "../../../store/outcomes.ts";
import type { CeleryHandoffItem } from "../../../store/celery-handoff.ts";
import type { Job } from "../../job.ts";
import type { AttemptOutcome } from "../target.ts";

/** What the batcher needs of the store. */
export interface CeleryHandoffStore {
  celeryHandoff(shard: number, token: string, brokerDb: number, items: CeleryHandoffItem[]): Promise<boolean[] | LeaseLost>;
}

/**
 * A shard's hand-offs go out once this many are waiting, without waiting for the end of the turn:
 * a burst's tasks start in one long synchronous run (thousands per shard), and its first messages
 * should not wait for the last ones to be built. Large enough that the script's fixed cost (lease,
 * batch and final-slot checks) is spread over many tasks.
 */
const SEND_AT = 128;
/**
 * With no call in flight, a group goes out at this size: Redis is idle, so the first messages of a
 * burst need not wait for 128 to be built. Later groups find calls in flight and grow to SEND_AT.
 */
const SEND_FIRST_AT = 16;
/**
 * Calls sent and not answered at once. A 50,000-task burst is ~40 MB of messages: written all at
 * once, it sat in the socket's user-space write buffer, which the runtime copied again on every
 * write (the profile's top entry, writeBuffered), so a burst took seconds. Eight calls of 128 keep
 * Redis busy and the buffer small.
 */
const MAX_IN_FLIGHT = 8;

interface Pending {
  token: string;
  items: CeleryHandoffItem[];
  resolvers: ((outcome: AttemptOutcome) => void)[];
}

export class HandoffBatcher {
  private readonly pending = new Map<number, Pending>();
  private flushQueued = false;
  /** Script calls sent and not answered yet, and the groups waiting for one of them to answer. */
  private inFlight = 0;
  private readonly waiting: [number, Pending][] = [];

  constructor(
    private readonly store: CeleryHandoffStore,
    private readonly brokerDb: number,
    /** The outcome of a hand-off whose call failed (Redis unreachable: the task waits, late, never lost). */
    private readonly failed: (error: Error) => AttemptOutcome,
    /** Told when a call answered (the broker is reachable). */
    private readonly answered: () => void = () => {},
  ) {}

  /**
   * Queues one hand-off; resolves SETTLED once the script answered (handed off, or skipped because
   * the batch was reaped or the lease lost: then it runs again through the reaper), or with
   * `failed(error)` when the call failed.
   */
  add(job: Job, item: CeleryHandoffItem): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let group = this.pending.get(job.shard);
      if (group && group.token !== job.leaseToken) {
        this.pending.delete(job.shard);
        this.send(job.shard, group);
        group = undefined;
      }
      if (!group) this.pending.set(job.shard, (group = { token: job.leaseToken, items: [], resolvers: [] }));
      group.items.push(item);
      group.resolvers.push(resolve);
      if (group.items.length >= SEND_AT || (this.inFlight === 0 && group.items.length >= SEND_FIRST_AT)) {
        this.pending.delete(job.shard);
        this.send(job.shard, group);
      }
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushQueued = false;
    const groups = [...this.pending];
    this.pending.clear();
    for (const [shard, group] of groups) this.send(shard, group);
  }

  private send(shard: number, group: Pending): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.waiting.push([shard, group]);
      return;
    }
    this.inFlight++;
    this.store.celeryHandoff(shard, group.token, this.brokerDb, group.items).then(
      () => {
        this.sent();
        this.answered();
        for (const resolve of group.resolvers) resolve(SETTLED);
      },
      (error: unknown) => {
        this.sent();
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const resolve of group.resolvers) resolve(this.failed(failure));
      },
    );
  }

  /** A call answered: the next waiting group goes out. */
  private sent(): void {
    this.inFlight--;
    const next = this.waiting.shift();
    if (next) this.send(next[0], next[1]);
  }
}

/** An outcome for the pool once the script answered (the end is recorded in Redis, or will be by the reaper). */
export const SETTLED: AttemptOutcome = Object.freeze({ kind: "settled" as const });
