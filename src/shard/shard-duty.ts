/**
 * A per-shard duty: background work a shard's owner does on a timer beside
 * claiming (cold promotion today; the next occurrence of a recurring
 * schedule or a resharding migration step next). The actor runs every duty
 * the same way, through its mailbox: it arms the duty's timer, and when it
 * fires asks the duty to plan one step, hands the step to perform (the I/O,
 * one store call), and gives the reply back to settle, which answers when to
 * step next. A duty's state changes only in plan and settle, which the actor
 * calls from its message handler, so a duty never races the actor or itself:
 * one step in flight at a time.
 *
 * The actor owns the rest: no step while the lease is not locally valid
 * (it waits leaseWaitMs), none after quiet() or stop(), and a LEASE_LOST
 * reply stops the actor as a refused claim does.
 */
import type { LeaseLost } from "../store/outcomes.ts";
import type { ShardStore } from "./ports.ts";

export interface ShardDuty<Step = unknown, Reply = unknown> {
  /** Names the duty in logs. */
  readonly name: string;
  /** Delay of the first step after the actor starts. */
  readonly firstStepInMs: number;
  /** Delay before looking again while the lease is not locally valid. */
  readonly leaseWaitMs: number;
  /** Decides the next step from the duty's state and the time. */
  plan(nowMs: number): Step;
  /** The step's I/O. Must not change the duty's state: the reply comes back to settle. */
  perform(step: Step, store: ShardStore): Promise<Reply | LeaseLost>;
  /** Takes in a step's reply; answers the delay until the next step. */
  settle(step: Step, reply: Reply, nowMs: number): number;
  /** The step failed (Redis trouble); answers the delay until trying again. */
  failed(error: unknown): number;
}
