/**
 * Real-time scheduling for every thread of the node (TICKWHEEL_REALTIME_PRIORITY).
 *
 * Why: on a machine whose cores are shared (the node beside its Redis, a
 * producer, anything else), a late start is mostly the node's thread waiting
 * for a core: runnable, not running, for 5-40 ms while Redis or a producer
 * has both cores (BENCHMARKS.md, "The eighteenth session": 3.5-4.5 s of run
 * queue in 22 s at 20,000 starts a second). A nice value or a shorter slice
 * did not take those waits away; SCHED_FIFO does: a runnable real-time
 * thread preempts every normal one at once. At 5,000 starts a second the
 * p99 went from 5-10 ms to 2-3 ms ("The nineteenth session").
 *
 * Every thread of the process, not only the event loop's. With the event
 * loop and the collector's threads real-time and the compiler threads not,
 * the tail grew five- to tenfold: most likely each collection waited for a
 * compiler thread to reach a safe point while it could not get a core (JSC
 * stops them before it marks, and the event loop waits for the collection).
 * In a process that embeds a node, that is the host's threads too. Threads
 * the runtime starts later (a compiler thread, a pool thread on first use)
 * are raised when `apply()` next runs; the node calls it every few seconds.
 *
 * What it costs: a real-time thread that never sleeps would keep normal
 * processes off its core. The node's threads sleep whenever they wait
 * (timers, Redis), and Linux keeps 5 % of every second for normal threads
 * (kernel.sched_rt_runtime_us lets real-time ones have 95 %), so a burst
 * delays a neighbour but cannot lock it out. Off by default: it is a decision about the machine.
 *
 * The kernel calls (threads(), raise()) are injected; the plan is pure.
 */

/** SCHED_FIFO in <sched.h>. */
export const SCHED_FIFO = 1;

export interface ThreadScheduler {
  /** Thread ids of this process, now. */
  threads(): number[];
  /** Puts a thread under SCHED_FIFO at `priority`; false when the kernel refused. */
  raise(tid: number, priority: number): boolean;
}

export interface RealtimeState {
  /** Threads raised and still alive at the last apply(). */
  raised: number;
  /** Threads of the process at the last apply(). */
  threads: number;
  /** Raise calls the kernel refused, all told. */
  refused: number;
}

export class RealtimeThreads {
  private readonly priority: number;
  private readonly scheduler: ThreadScheduler;
  /** Raised, or refused (not asked again while that thread lives). */
  private readonly tried = new Set<number>();
  private readonly raisedTids = new Set<number>();
  private refusedCount = 0;
  private threadCount = 0;

  constructor(priority: number, scheduler: ThreadScheduler) {
    if (!Number.isInteger(priority) || priority < 1 || priority > 99) throw new RangeError(`real-time priority must be 1-99, got ${priority}`);
    this.priority = priority;
    this.scheduler = scheduler;
  }

  /** Raises the threads not tried yet; returns what holds now. */
  apply(): RealtimeState {
    const tids = this.scheduler.threads();
    const alive = new Set(tids);
    for (const tid of tids) {
      if (this.tried.has(tid)) continue;
      this.tried.add(tid);
      if (this.scheduler.raise(tid, this.priority)) this.raisedTids.add(tid);
      else this.refusedCount++;
    }
    // A thread that ended leaves both sets: its id may come back as a new thread of this process.
    for (const tid of this.tried) {
      if (alive.has(tid)) continue;
      this.tried.delete(tid);
      this.raisedTids.delete(tid);
    }
    this.threadCount = tids.length;
    return this.state;
  }

  get state(): RealtimeState {
    return { raised: this.raisedTids.size, threads: this.threadCount, refused: this.refusedCount };
  }
}
