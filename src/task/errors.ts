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
  | "unavailable";

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
