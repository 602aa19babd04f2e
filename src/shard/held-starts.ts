/**
 * Held starts: tasks claimed before their due ms wait here, grouped by due
 * ms, until the actor's one hold timer (armed for the earliest) says their
 * millisecond has come. A task never starts before its due ms: timers may
 * fire a fraction of a ms early, so release takes the time and gives back
 * only what is due by then. Holds no timer and no clock of its own.
 */
import type { Job } from "../pool/job.ts";

export class HeldStarts {
  private readonly byDue = new Map<number, Job[]>();
  /** Distinct due ms held, ascending; the actor arms its timer for the first. */
  private readonly dueTimes: number[] = [];
  private held = 0;

  get count(): number {
    return this.held;
  }

  /** The earliest due ms held, or undefined when nothing is. */
  earliestDueMs(): number | undefined {
    return this.dueTimes[0];
  }

  /** Holds a job; true when its due ms is new here (the timer may need arming earlier). */
  hold(job: Job): boolean {
    let jobs = this.byDue.get(job.dueMs);
    let isNew = false;
    if (!jobs) {
      jobs = [];
      this.byDue.set(job.dueMs, jobs);
      insertSorted(this.dueTimes, job.dueMs);
      isNew = true;
    }
    jobs.push(job);
    this.held++;
    return isNew;
  }

  /** Takes out every group due by nowMs, earliest first (none before its due ms). */
  releaseDue(nowMs: number): Job[][] {
    let due = 0;
    while (due < this.dueTimes.length && this.dueTimes[due]! <= nowMs) due++;
    const releasing = this.dueTimes.splice(0, due);
    const groups: Job[][] = new Array(releasing.length);
    for (let i = 0; i < releasing.length; i++) {
      const jobs = this.byDue.get(releasing[i]!)!;
      this.byDue.delete(releasing[i]!);
      this.held -= jobs.length;
      groups[i] = jobs;
    }
    return groups;
  }

  /** Takes out everything (the lease was lost: none of it may start). */
  releaseAll(): Job[][] {
    const groups = [...this.byDue.values()];
    this.byDue.clear();
    this.dueTimes.length = 0;
    this.held = 0;
    return groups;
  }
}

/** Inserts into an ascending array (held due times: a handful, mostly appended at the end). */
function insertSorted(sorted: number[], value: number): void {
  let i = sorted.length;
  while (i > 0 && sorted[i - 1]! > value) i--;
  sorted.splice(i, 0, value);
}
