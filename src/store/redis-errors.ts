/**
 * What Redis means when it refuses: the store is the only code that knows
 * Redis' error texts, so it turns them here into a RedisRefusal with a kind
 * and an HTTP-facing code. Everything above the store (HTTP, client, CLI,
 * metrics, logs) reads the kind and the code, never the text.
 *
 * Redis prefixes an error reply with an upper-case word (`OOM`, `READONLY`,
 * `MISCONF`, …); a refusal inside a Lua script keeps that prefix and adds
 * "script: <sha>, on @user_script:<line>". A script that was refused wrote
 * nothing: Redis refuses a script's first write under maxmemory and lets a
 * script that has written finish, so every script call is all or nothing.
 * Connection trouble (refused, reset, closed, ioredis giving up on a
 * command) is the "connection" kind.
 */
import { TickwheelError, type ErrorCode } from "../task/errors.ts";

export type RedisErrorKind =
  /** maxmemory reached with noeviction: writes are refused until memory is freed. */
  | "oom"
  /** A replica (or a primary demoted by a failover) refuses writes. */
  | "readonly"
  /** Redis cannot persist (RDB save or AOF write failed) and refuses writes. */
  | "misconf"
  /** Redis is loading its dataset after a restart. */
  | "loading"
  /** Redis Cluster: the cluster or the slot is down, or a slot is moving. */
  | "clusterdown"
  /** A replica lost its primary (MASTERDOWN), or too few replicas for a write (NOREPLICAS). */
  | "replica"
  /** A script or command runs too long (BUSY). */
  | "busy"
  /** Redis is unreachable: refused, reset, closed, timed out. */
  | "connection"
  /** Anything else Redis answered with (a bug, or a command this version does not know). */
  | "other";

export const REDIS_ERROR_KINDS: readonly RedisErrorKind[] = ["oom", "readonly", "misconf", "loading", "clusterdown", "replica", "busy", "connection", "other"];

/** Redis' own error prefixes, by kind. */
const PREFIXES: readonly (readonly [string, RedisErrorKind])[] = [
  ["OOM", "oom"],
  ["READONLY", "readonly"],
  ["MISCONF", "misconf"],
  ["LOADING", "loading"],
  ["CLUSTERDOWN", "clusterdown"],
  ["TRYAGAIN", "clusterdown"],
  ["MASTERDOWN", "replica"],
  ["NOREPLICAS", "replica"],
  ["BUSY", "busy"],
];

/** ioredis', Bun's client's (lean-scripts.ts) and the socket's wording when Redis cannot be reached. */
const CONNECTION = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|max retries per request|Failed to refresh slots cache|None of startup nodes is available|connect ETIMEDOUT|Command timed out|ERR_REDIS_CONNECTION_CLOSED|ERR_REDIS_CONNECTION_TIMEOUT|Connection has failed/i;

/** What an HTTP caller gets for each kind: the error code, the status, how long to wait. */
export const REFUSAL: Record<RedisErrorKind, { code: ErrorCode; message: string; retryAfterS: number | null }> = {
  oom: {
    code: "redis_out_of_memory",
    message: "Redis is out of memory (maxmemory reached); nothing was stored; try again once tasks finish or the operator raises maxmemory",
    retryAfterS: 5,
  },
  readonly: { code: "redis_read_only", message: "Redis refuses writes (a read-only replica, or a failover in progress); nothing was stored; try again", retryAfterS: 1 },
  misconf: { code: "redis_cannot_persist", message: "Redis refuses writes because it cannot persist to disk (MISCONF); nothing was stored; try again", retryAfterS: 5 },
  loading: { code: "redis_loading", message: "Redis is loading its dataset; try again", retryAfterS: 1 },
  clusterdown: { code: "redis_cluster_down", message: "the Redis Cluster is down or moving the slot; try again", retryAfterS: 1 },
  replica: { code: "redis_replica_unavailable", message: "Redis has no primary or too few replicas for a write; nothing was stored; try again", retryAfterS: 1 },
  busy: { code: "redis_busy", message: "Redis is busy running a long script; try again", retryAfterS: 1 },
  connection: { code: "unavailable", message: "redis is unreachable; try again", retryAfterS: 1 },
  other: { code: "redis_error", message: "Redis refused the command", retryAfterS: null },
};

/** A Redis refusal or outage, typed: `kind` for metrics and logs, `code` for callers. */
export class RedisRefusal extends TickwheelError {
  readonly kind: RedisErrorKind;
  /** Seconds a caller should wait before trying again (HTTP Retry-After); null: do not retry as is. */
  readonly retryAfterS: number | null;
  /** Redis' own text, for logs (never sent to HTTP callers: it names keys and scripts). */
  readonly detail: string;

  constructor(kind: RedisErrorKind, detail: string) {
    const refusal = REFUSAL[kind];
    super(refusal.code, refusal.message);
    this.name = "RedisRefusal";
    this.kind = kind;
    this.retryAfterS = refusal.retryAfterS;
    this.detail = detail;
  }

  /** For logs: the kind and Redis' own text too (String(error) in a log line shows this). */
  override toString(): string {
    return `${this.name} [${this.kind}]: ${this.detail}`;
  }
}

/** The kind of a Redis or connection error; null for an error that did not come from Redis. */
export function redisErrorKind(error: unknown): RedisErrorKind | null {
  if (error instanceof RedisRefusal) return error.kind;
  if (!(error instanceof Error)) return null;
  const message = error.message ?? "";
  for (const [prefix, kind] of PREFIXES) {
    if (message.startsWith(prefix) && (message.length === prefix.length || message[prefix.length] === " ")) return kind;
  }
  if (CONNECTION.test(message) || CONNECTION.test(error.name ?? "") || CONNECTION.test(String((error as { code?: unknown }).code ?? ""))) return "connection";
  // Redis answered, with something not listed above: ioredis' reply errors, Bun's server errors.
  if (error.name === "ReplyError" || (error as { code?: unknown }).code === "ERR_REDIS_SERVER_ERROR") return "other";
  return null;
}

/** The error as a RedisRefusal when it came from Redis (or the connection), else the error itself. */
export function asRedisRefusal(error: unknown): unknown {
  if (error instanceof RedisRefusal) return error;
  const kind = redisErrorKind(error);
  return kind === null ? error : new RedisRefusal(kind, (error as Error).message);
}
