/**
 * Schedule batcher: the per-shard schedule calls that one turn of the event
 * loop asks for leave as one script call (schedule-n.lua) when every shard
 * lives on one Redis server. A producer's call holds tasks of most shards,
 * so it used to become one script call per shard of a few tasks each, and
 * the fixed cost of a call, on both sides, was more than its tasks cost.
 *
 * Each caller still gets its own shard's reply, exactly as schedule-4.lua
 * gives it. A refusal of the shared call (out of memory, read-only, the
 * connection) is every part's refusal: the script is all or nothing, so
 * none of their tasks was stored. Calls that arrive in one turn are joined
 * up to a task budget (the longest single call a shard could already
 * send), so no joined call holds Redis longer than one shard's could.
 * Pure apart from the two injected senders.
 */

/** One shard's schedule call: schedule-4.lua's keys and arguments, and how many tasks it carries. */
export interface SchedulePart {
  keys: string[];
  argv: (string | number)[];
  tasks: number;
}

export interface ScheduleSenders {
  /** One part alone (schedule-4.lua). */
  one(keys: string[], argv: (string | number)[]): Promise<unknown>;
  /** Several parts' keys and arguments, part after part (schedule-n.lua): one reply per part, in order. */
  many(keys: string[], argv: (string | number)[]): Promise<unknown>;
}

interface Waiting {
  part: SchedulePart;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

export class ScheduleBatcher {
  private readonly senders: ScheduleSenders;
  private readonly maxTasks: number;
  private waiting: Waiting[] = [];
  private flushQueued = false;

  /** maxTasks: tasks per joined call at most (a part bigger than that still goes, alone). */
  constructor(senders: ScheduleSenders, maxTasks: number) {
    this.senders = senders;
    this.maxTasks = maxTasks;
  }

  /** Sends one shard's call with the others of this turn; resolves to that shard's reply. */
  run(part: SchedulePart): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ part, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        // After the caller's synchronous code: a scheduleMany issues every shard's call before it awaits.
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushQueued = false;
    const waiting = this.waiting;
    this.waiting = [];
    let from = 0;
    while (from < waiting.length) {
      let to = from + 1;
      let tasks = waiting[from]!.part.tasks;
      while (to < waiting.length && tasks + waiting[to]!.part.tasks <= this.maxTasks) tasks += waiting[to++]!.part.tasks;
      this.send(waiting.slice(from, to));
      from = to;
    }
  }

  private send(group: Waiting[]): void {
    if (group.length === 1) {
      const { part, resolve, reject } = group[0]!;
      this.senders.one(part.keys, part.argv).then(resolve, reject);
      return;
    }
    const keys: string[] = [];
    const argv: (string | number)[] = [];
    for (const { part } of group) {
      for (const key of part.keys) keys.push(key);
      for (const arg of part.argv) argv.push(arg);
    }
    this.senders.many(keys, argv).then(
      (replies) => {
        if (!Array.isArray(replies) || replies.length !== group.length) {
          const error = new Error(`schedule-n.lua answered ${Array.isArray(replies) ? replies.length : typeof replies} replies for ${group.length} shards`);
          for (const { reject } of group) reject(error);
          return;
        }
        for (let i = 0; i < group.length; i++) group[i]!.resolve(replies[i]);
      },
      (error: unknown) => {
        for (const { reject } of group) reject(error);
      },
    );
  }
}
