/**
 * Structured logs: one JSON line per event (pino), level from config. A
 * failure line always carries task id, name, attempt and error. In core
 * because every part logs (actors, pool, ownership, HTTP, the node).
 */
import pino from "pino";

export type Logger = pino.Logger;

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** A logger that drops everything: for clients and tests that want silence. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
