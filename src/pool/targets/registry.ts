/**
 * The node's deliverers by target type. The in-process handler is always
 * there, and is also what `forTarget` answers without a lookup for the
 * shared handler target object (every handler task's decoded spec holds
 * that one object: see codec.ts), so the hot path costs one comparison.
 */
import { HANDLER_TARGET } from "../../task/codec.ts";
import type { Target, TargetType } from "../../task/model.ts";
import { handlerTarget } from "./handler.ts";
import type { DeliveryTarget } from "./target.ts";

export class TargetRegistry {
  private readonly byType = new Map<TargetType, DeliveryTarget>();
  private handler: DeliveryTarget = handlerTarget;

  constructor(targets: readonly DeliveryTarget[] = []) {
    for (const target of targets) this.register(target);
  }

  /** Adds (or replaces) the deliverer of `target.type`. */
  register(target: DeliveryTarget): this {
    this.byType.set(target.type, target);
    if (target.type === "handler") this.handler = target;
    return this;
  }

  /** The deliverer for a task's target, or undefined when this node has none for its type. */
  forTarget(target: Target): DeliveryTarget | undefined {
    if (target === HANDLER_TARGET) return this.handler;
    return target.type === "handler" ? this.handler : this.byType.get(target.type);
  }
}
