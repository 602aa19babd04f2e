/**
 * Progress records of the console's bulk jobs (issue 15): one STRING of JSON
 * per job under its own hash tag, with a TTL, so any node can answer
 * GET /v1/bulk/:jobId while the node that runs the job writes its progress.
 */
import type { KeyBook } from "./keys.ts";
import type { ScriptRunner } from "./script-runner.ts";

export class RedisBulkJobRecords {
  private readonly runner: ScriptRunner;
  private readonly keyBook: KeyBook;

  constructor(runner: ScriptRunner, keyBook: KeyBook) {
    this.runner = runner;
    this.keyBook = keyBook;
  }

  private key(jobId: string): string {
    return `${this.keyBook.prefix}:{bulk}:${jobId}`;
  }

  async save(jobId: string, json: string, ttlMs: number): Promise<void> {
    await this.runner.redis.set(this.key(jobId), json, "PX", ttlMs);
  }

  async load(jobId: string): Promise<string | null> {
    return this.runner.redis.get(this.key(jobId));
  }
}
