/**
 * Bulk actions of the operator's console (issue 15): cancel, retry or run
 * now every task of one state that a filter selects, or only count them (the
 * number a confirmation shows). A job runs in the background on the node that
 * got the request, one listing page at a time (BULK_PAGE tasks: each page is
 * one bounded listing call per shard plus one short script call per task),
 * yielding between pages so neither Redis nor the node's event loop is held;
 * its progress is saved in Redis after every page, so GET /v1/bulk/:jobId
 * answers from any node. 100,000 tasks are 200 pages: the request that
 * starts the job returns at once.
 *
 * A job walks the listing with its cursor while it changes the tasks behind
 * it: cancelled, retried and run-now tasks leave the part of the index that
 * is still ahead of the cursor (run-now moves a task to now, before it), so
 * every task is visited once.
 */
import { randomBytes } from "node:crypto";
import type { Client } from "../client/client.ts";
import type { ListOptions } from "../client/listing.ts";
import type { ListableState } from "../store/outcomes.ts";
import type { Logger } from "../core/log.ts";
import { invalid } from "../task/errors.ts";

export const BULK_ACTIONS = ["cancel", "retry", "run-now", "count"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** Which listing states each action applies to (what the single-task action accepts). */
export const BULK_STATES: Record<BulkAction, readonly ListableState[]> = {
  cancel: ["scheduled", "failed"],
  "run-now": ["scheduled", "failed"],
  retry: ["dead"],
  count: ["scheduled", "running", "succeeded", "failed", "dead", "cancelled", "expired"],
};

/** Tasks per page: one listing page, then as many short script calls, then a yield. */
const BULK_PAGE = 500;
/** A finished job's progress stays readable this long. */
const BULK_RECORD_TTL_MS = 86_400_000;

export interface BulkRequest {
  action: BulkAction;
  state: ListableState;
  name?: string | undefined;
  namePrefix?: string | undefined;
  /** Required (true) to act on every task of the state, with neither name nor namePrefix. */
  all?: boolean | undefined;
}

export interface BulkJob {
  jobId: string;
  action: BulkAction;
  state: ListableState;
  name: string | null;
  namePrefix: string | null;
  status: "running" | "done" | "failed";
  /** Tasks the filter listed so far. */
  matched: number;
  /** Of those, how many the action changed (cancelled, requeued, made due). */
  done: number;
  /** Of those, how many had moved on before the action reached them (started, finished). */
  skipped: number;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
  error: string | null;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export class BulkJobs {
  private readonly client: Client;
  private readonly log: Logger;

  constructor(client: Client, log: Logger) {
    this.client = client;
    this.log = log;
  }

  /** Checks the request (400 naming the field), saves the job and starts it; returns its first progress. */
  async start(request: BulkRequest): Promise<BulkJob> {
    if (!BULK_ACTIONS.includes(request.action)) throw invalid("action", `expected one of ${BULK_ACTIONS.join(", ")}`);
    const states = BULK_STATES[request.action];
    if (!states.includes(request.state)) throw invalid("state", `${request.action} applies to ${states.join(", ")} tasks`);
    if (request.name !== undefined && request.namePrefix !== undefined) throw invalid("namePrefix", "give name or namePrefix, not both");
    const filtered = request.name !== undefined || request.namePrefix !== undefined;
    if (!filtered && request.all !== true && request.action !== "count") {
      throw invalid("name", "a bulk action needs a filter: name or namePrefix (or all: true for every task in the state)");
    }
    const now = Date.now();
    const job: BulkJob = {
      jobId: `bulk-${now.toString(36)}-${randomBytes(6).toString("hex")}`,
      action: request.action,
      state: request.state,
      name: request.name ?? null,
      namePrefix: request.namePrefix ?? null,
      status: "running",
      matched: 0,
      done: 0,
      skipped: 0,
      startedAt: now,
      updatedAt: now,
      finishedAt: null,
      error: null,
    };
    await this.save(job);
    this.log.info({ jobId: job.jobId, action: job.action, state: job.state, name: job.name, namePrefix: job.namePrefix }, "bulk action started");
    void this.run(job);
    return { ...job };
  }

  async get(jobId: string): Promise<BulkJob | null> {
    const json = await this.client.loadBulkJob(jobId);
    return json === null ? null : (JSON.parse(json) as BulkJob);
  }

  private async run(job: BulkJob): Promise<void> {
    const options: ListOptions = { state: job.state, limit: BULK_PAGE };
    if (job.name !== null) options.name = job.name;
    if (job.namePrefix !== null) options.namePrefix = job.namePrefix;
    try {
      let cursor: string | null | undefined;
      do {
        const page = await this.client.list(cursor ? { ...options, cursor } : options);
        job.matched += page.tasks.length;
        if (job.action !== "count") {
          const outcomes = await Promise.all(page.tasks.map((task) => this.apply(job.action, task.id)));
          const touched: string[] = [];
          for (let i = 0; i < outcomes.length; i++) {
            if (outcomes[i]) {
              job.done++;
              touched.push(page.tasks[i]!.id);
            } else job.skipped++;
          }
          // What each page changed, id by id: at debug level (a 100,000-task job is 200 such lines).
          if (touched.length > 0) this.log.debug({ jobId: job.jobId, action: job.action, ids: touched }, "bulk action page");
        }
        cursor = page.nextCursor;
        job.updatedAt = Date.now();
        await this.save(job);
        await yieldToLoop();
      } while (cursor);
      job.status = "done";
    } catch (error) {
      job.status = "failed";
      job.error = String((error as Error)?.message ?? error);
    }
    job.finishedAt = job.updatedAt = Date.now();
    await this.save(job).catch((error) => this.log.error({ err: String(error), jobId: job.jobId }, "bulk job progress not saved"));
    this.log.info(
      { jobId: job.jobId, action: job.action, state: job.state, name: job.name, namePrefix: job.namePrefix, matched: job.matched, done: job.done, skipped: job.skipped, status: job.status, error: job.error },
      "bulk action finished",
    );
  }

  /** One task; true when the action changed it. */
  private async apply(action: BulkAction, id: string): Promise<boolean> {
    if (action === "cancel") return (await this.client.cancel(id)).cancelled;
    if (action === "retry") return (await this.client.retryDead(id)).retried;
    if (action === "run-now") return (await this.client.runNow(id)).rescheduled;
    return false;
  }

  private save(job: BulkJob): Promise<void> {
    return this.client.saveBulkJob(job.jobId, JSON.stringify(job), BULK_RECORD_TTL_MS);
  }
}
