/**
 * One error type for bad input at every edge (client, HTTP, CLI, config):
 * it names the field and what was expected, so callers can show it as is.
 */
export type ErrorCode =
  | "invalid_input"
  | "payload_too_large"
  | "not_found"
  | "conflict"
  | "unknown_task"
  | "unavailable"
  // Redis refused or cannot be reached (src/store/redis-errors.ts says which reply is which).
  | "redis_out_of_memory"
  | "redis_read_only"
  | "redis_cannot_persist"
  | "redis_loading"
  | "redis_cluster_down"
  | "redis_replica_unavailable"
  | "redis_busy"
  | "redis_error";

export class TickwheelError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = "TickwheelError";
    this.code = code;
    this.field = field;
  }
}

export function invalid(field: string, message: string): TickwheelError {
  return new TickwheelError("invalid_input", message, field);
}
