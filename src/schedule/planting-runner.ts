/**
 * Runs the schedule-planting duty of one owned shard on a timer: plan one step, perform it (the
 * store calls), settle the reply, which answers when to step next. One step in flight at a time;
 * no step while the lease is not locally valid; a refused lease stops it and tells the owner.
 * The node starts one with each shard actor and stops it with the actor.
 */
import type { Logger } from "../core/log.ts";
import { LEASE_LOST } from "../store/outcomes.ts";
import { SchedulePlanting, type SchedulePlantingOptions } from "./planter.ts";

export interface PlantingRunnerOptions extends SchedulePlantingOptions {
  log: Logger;
  /** Whether this node may still act on the shard by its own clock (ShardOwnership.canStart). */
  leaseValid: () => boolean;
  onLeaseLost: (shard: number, leaseToken: string) => void;
  now?: () => number;
}

export class PlantingRunner {
  readonly duty: SchedulePlanting;
  private readonly options: PlantingRunnerOptions;
  private readonly now: () => number;
  private state: "new" | "running" | "stopped" = "new";
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: PlantingRunnerOptions) {
    this.options = options;
    this.duty = new SchedulePlanting(options);
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.state !== "new") return;
    this.state = "running";
    this.arm(this.duty.firstStepInMs);
  }

  stop(): void {
    this.state = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(delayMs: number): void {
    if (this.state !== "running") return;
    this.timer = setTimeout(() => void this.step(), Math.max(0, delayMs));
  }

  private async step(): Promise<void> {
    this.timer = null;
    if (this.state !== "running") return;
    if (!this.options.leaseValid()) return this.arm(this.duty.leaseWaitMs);
    const step = this.duty.plan(this.now());
    let delayMs: number;
    try {
      const reply = await this.duty.perform(step);
      if (this.state !== "running") return;
      if (reply === LEASE_LOST) {
        this.options.log.warn({ shard: this.options.shard, duty: this.duty.name }, "duty refused: lease lost");
        this.stop();
        this.options.onLeaseLost(this.options.shard, this.options.leaseToken);
        return;
      }
      delayMs = this.duty.settle(step, reply, this.now());
    } catch (error) {
      delayMs = this.duty.failed(error);
    }
    this.arm(delayMs);
  }
}
