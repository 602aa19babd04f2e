/**
 * Every setting of a node, read from environment variables and validated by
 * one zod schema at start. A bad value stops the node with one line naming
 * the variable and what it expected. The table below is also what
 * `tickwheel start --help` prints.
 */
import { z } from "zod";
import { OutboundPolicyError, parseOutboundPolicy } from "../core/outbound-policy.ts";
import * as D from "./defaults.ts";

interface Setting {
  env: string;
  description: string;
  schema: z.ZodType;
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: `expected an integer from ${min} to ${max}` })
    .int({ error: `expected an integer from ${min} to ${max}` })
    .min(min, { error: `expected an integer from ${min} to ${max}` })
    .max(max, { error: `expected an integer from ${min} to ${max}` });

const redisUrl = z
  .string()
  .refine((value) => /^rediss?:\/\/[^\s]+$/.test(value), { error: "expected redis://[user:pass@]host:port or rediss://…" });

const hostPortList = z
  .string()
  .refine((value) => value.split(",").every((part) => /^[^\s:,]+:\d{1,5}$/.test(part.trim())), {
    error: "expected a comma-separated list of host:port",
  })
  .transform((value) => value.split(",").map((part) => part.trim()));

const logLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"], {
  error: "expected one of trace, debug, info, warn, error, fatal, silent",
});

/** A TICKWHEEL_WEBHOOK_ALLOW / _DENY list, checked by the parser the policy is built with. */
const outboundList = (kind: "allow" | "deny") =>
  z
    .string()
    .optional()
    .superRefine((value, ctx) => {
      try {
        parseOutboundPolicy({ [kind]: value });
      } catch (error) {
        if (!(error instanceof OutboundPolicyError)) throw error;
        ctx.addIssue({ code: "custom", message: error.message.replace(/^[A-Z_]+: /, "") });
      }
    });

const boolean = z.enum(["true", "false", "1", "0", "yes", "no"], { error: "expected true or false" }).transform((v) =>
  ["true", "1", "yes"].includes(v),
);

const settings = {
  redisUrl: { env: "REDIS_URL", description: "Redis to use (redis:// or rediss://, user and password allowed); unset: run an embedded redis-server", schema: redisUrl.optional() },
  redisClusterNodes: { env: "REDIS_CLUSTER_NODES", description: "Redis Cluster seed nodes host:port,host:port (takes precedence over REDIS_URL)", schema: hostPortList.optional() },
  port: { env: "PORT", description: "HTTP port", schema: int(0, 65535).default(D.DEFAULT_PORT) },
  host: { env: "TICKWHEEL_HOST", description: "HTTP listen address", schema: z.string().min(1).default(D.DEFAULT_HOST) },
  tasksModule: { env: "TICKWHEEL_TASKS", description: "path of the tasks module (calls defineTask) loaded at start", schema: z.string().min(1).optional() },
  shards: { env: "TICKWHEEL_SHARDS", description: `shard count (fixed per prefix once data exists; unset: the existing count, or ${D.DEFAULT_SHARDS} for a new prefix)`, schema: int(1, 16384).optional() },
  concurrency: { env: "TICKWHEEL_CONCURRENCY", description: "worker pool size: tasks running at once on this node", schema: int(1, 100_000).default(D.DEFAULT_CONCURRENCY) },
  nodeId: { env: "TICKWHEEL_NODE_ID", description: "node id (generated when unset)", schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: "expected 1-64 of A-Z a-z 0-9 . _ -" }).optional() },
  prefix: { env: "TICKWHEEL_PREFIX", description: "Redis key prefix", schema: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, { error: "expected 1-32 of A-Z a-z 0-9 . _ -" }).default(D.DEFAULT_PREFIX) },
  dataDir: { env: "TICKWHEEL_DATA_DIR", description: "data directory of the embedded redis-server", schema: z.string().min(1).default("./.tickwheel") },
  lookaheadMs: { env: "TICKWHEEL_LOOKAHEAD_MS", description: "look-ahead window loaded into each shard's timer wheel", schema: int(100, 600_000).default(D.DEFAULT_LOOKAHEAD_MS) },
  coldAfterMs: {
    env: "TICKWHEEL_COLD_AFTER_MS",
    description: "tasks due this far ahead or more wait in the compact cold tier until they come within it (0: no cold tier)",
    schema: int(0, 30 * 86_400_000).default(D.DEFAULT_COLD_AFTER_MS),
  },
  claimAheadMs: { env: "TICKWHEEL_CLAIM_AHEAD_MS", description: "claim this early and hold the start until the due ms", schema: int(0, 1000).default(D.DEFAULT_CLAIM_AHEAD_MS) },
  claimBatch: { env: "TICKWHEEL_CLAIM_BATCH", description: "max tasks per claim call", schema: int(1, 10_000).default(D.DEFAULT_CLAIM_BATCH) },
  claimDepth: { env: "TICKWHEEL_CLAIM_DEPTH", description: "pools' worth of slots claims in flight may reserve; above 1, claimed tasks may wait in memory for a slot", schema: int(1, 16).default(D.DEFAULT_CLAIM_DEPTH) },
  holdLimit: { env: "TICKWHEEL_HOLD_LIMIT", description: "claimed tasks a node may keep beyond its free slots (held for their due ms, or waiting for a slot); claims use it while fewer than half the slots run", schema: int(0, 1_000_000).default(D.DEFAULT_HOLD_LIMIT) },
  windowCap: { env: "TICKWHEEL_WINDOW_CAP", description: "max tasks per shard window (the wheel counts them per ms; beyond it the window is read in parts)", schema: int(100, 10_000_000).default(D.DEFAULT_WINDOW_CAP) },
  visibilityMs: { env: "TICKWHEEL_VISIBILITY_MS", description: "visibility deadline of a running attempt (kept alive while it runs)", schema: int(500, 86_400_000).default(D.DEFAULT_VISIBILITY_MS) },
  leaseTtlMs: { env: "TICKWHEEL_LEASE_TTL_MS", description: "shard lease TTL", schema: int(300, 600_000).default(D.DEFAULT_LEASE_TTL_MS) },
  leaseRenewMs: { env: "TICKWHEEL_LEASE_RENEW_MS", description: "shard lease renew interval", schema: int(50, 600_000).default(D.DEFAULT_LEASE_RENEW_MS) },
  graceMs: { env: "TICKWHEEL_GRACE_MS", description: "on SIGTERM, how long in-flight tasks may finish", schema: int(0, 3_600_000).default(D.DEFAULT_GRACE_MS) },
  retentionMs: { env: "TICKWHEEL_RETENTION_MS", description: "how long finished tasks' state and result stay readable", schema: int(1000, 365 * 86_400_000).default(D.DEFAULT_RETENTION_MS) },
  deadRetentionMs: { env: "TICKWHEEL_DEAD_RETENTION_MS", description: "how long dead tasks stay listed and retryable", schema: int(1000, 365 * 86_400_000).default(D.DEFAULT_DEAD_RETENTION_MS) },
  maxArgsBytes: { env: "TICKWHEEL_MAX_ARGS_BYTES", description: "max JSON size of a task's args", schema: int(16, 64 * 1024 * 1024).default(D.DEFAULT_MAX_ARGS_BYTES) },
  maxResultBytes: { env: "TICKWHEEL_MAX_RESULT_BYTES", description: "max JSON size of a stored result", schema: int(0, 64 * 1024 * 1024).default(D.DEFAULT_MAX_RESULT_BYTES) },
  defaultMaxAttempts: { env: "TICKWHEEL_DEFAULT_MAX_ATTEMPTS", description: "maxAttempts of tasks that set none", schema: int(1, D.MAX_ATTEMPTS_LIMIT).default(D.DEFAULT_MAX_ATTEMPTS) },
  defaultTimeoutMs: { env: "TICKWHEEL_DEFAULT_TIMEOUT_MS", description: "timeoutMs of tasks that set none", schema: int(1, D.MAX_TIMEOUT_MS).default(D.DEFAULT_TIMEOUT_MS) },
  backoffBaseMs: { env: "TICKWHEEL_BACKOFF_BASE_MS", description: "default retry backoff base", schema: int(1, 86_400_000).default(D.DEFAULT_BACKOFF_BASE_MS) },
  backoffMaxMs: { env: "TICKWHEEL_BACKOFF_MAX_MS", description: "default retry backoff cap", schema: int(1, 30 * 86_400_000).default(D.DEFAULT_BACKOFF_MAX_MS) },
  logLevel: { env: "TICKWHEEL_LOG_LEVEL", description: "log level", schema: logLevel.default("info") },
  apiToken: { env: "TICKWHEEL_API_TOKEN", description: "bearer token required on /v1 and /admin", schema: z.string().min(16, { error: "expected at least 16 characters" }).optional() },
  allowInsecure: { env: "TICKWHEEL_ALLOW_INSECURE", description: "allow listening on a non-loopback address without a token", schema: boolean.default(false) },
  metricsAuth: { env: "TICKWHEEL_METRICS_AUTH", description: "require the bearer token on /metrics too", schema: boolean.default(false) },
  maxBatchBytes: { env: "TICKWHEEL_MAX_BATCH_BYTES", description: "max body size of POST /v1/tasks/batch (larger: 413 before parsing)", schema: int(1024, 1024 * 1024 * 1024).default(D.DEFAULT_MAX_BATCH_BYTES) },
  allowEviction: {
    env: "TICKWHEEL_ALLOW_EVICTION",
    description: "start even when Redis' maxmemory-policy may evict keys (tasks can vanish when its memory fills)",
    schema: boolean.default(false),
  },
  leanScripts: {
    env: "TICKWHEEL_LEAN_SCRIPTS",
    description: "send the claim and finish scripts through Bun's own Redis client (one server; a Redis Cluster always uses ioredis): less of the node's CPU per task in a burst",
    schema: boolean.default(true),
  },
  gcInGaps: {
    env: "TICKWHEEL_GC_IN_GAPS",
    description: "collect the runtime's young generation when none of the node's timers is due for 3 ms, or every 50 ms where no such gap comes, so collections delay fewer starts",
    schema: boolean.default(true),
  },
  realtimePriority: {
    env: "TICKWHEEL_REALTIME_PRIORITY",
    description: "run every thread of the node under SCHED_FIFO at this real-time priority (1-99; needs root, CAP_SYS_NICE or RLIMIT_RTPRIO), so a due start does not wait for a core that Redis or another process holds; 0: off",
    schema: int(0, 99).default(0),
  },
  pauseRefreshMs: { env: "TICKWHEEL_PAUSE_REFRESH_MS", description: "how often a node reads the paused task names (a pause reaches every node within this)", schema: int(50, 60_000).default(D.DEFAULT_PAUSE_REFRESH_MS) },
  webhookSecret: {
    env: "TICKWHEEL_WEBHOOK_SECRET",
    description: "key of the webhooks' HMAC-SHA256 signature (tickwheel-signature); unset: this node sends no webhooks (they wait for a node that has it)",
    schema: z.string().min(16, { error: "expected at least 16 characters" }).optional(),
  },
  webhookAllow: { env: "TICKWHEEL_WEBHOOK_ALLOW", description: "webhook allow-list: CIDRs, host names, *.domain (unset: any address not refused)", schema: outboundList("allow") },
  webhookDeny: { env: "TICKWHEEL_WEBHOOK_DENY", description: "webhook addresses refused on top of metadata and link-local: CIDRs, loopback, private", schema: outboundList("deny") },
  celeryBrokerUrl: { env: "TICKWHEEL_CELERY_BROKER_URL", description: "the Celery broker's Redis (redis://host:port/db) that celery-target tasks are pushed onto; unset: such tasks wait for a node that has it", schema: redisUrl.optional() },
  celeryResultUrl: { env: "TICKWHEEL_CELERY_RESULT_URL", description: "the Celery result backend's Redis; when set, GET /v1/tasks/:id of a celery-target task shows Celery's result state", schema: redisUrl.optional() },
  celeryKeyPrefix: { env: "TICKWHEEL_CELERY_KEY_PREFIX", description: "the workers' broker_transport_options global_keyprefix (prepended to queue list keys)", schema: z.string().max(200).default("") },
} satisfies Record<string, Setting>;

type Settings = typeof settings;
export type Config = { [K in keyof Settings]: z.output<Settings[K]["schema"]> };

export class ConfigError extends Error {
  readonly env: string;
  constructor(env: string, message: string) {
    super(`${env}: ${message}`);
    this.name = "ConfigError";
    this.env = env;
  }
}

/** Reads and validates every setting; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(settings) as [keyof Settings, Setting][]) {
    const raw = env[setting.env];
    const value = raw === undefined || raw === "" ? undefined : raw;
    const parsed = setting.schema.safeParse(value);
    if (!parsed.success) {
      const shown = value === undefined ? "(unset)" : JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value);
      throw new ConfigError(setting.env, `${parsed.error.issues[0]?.message ?? "invalid"}, got ${shown}`);
    }
    out[key] = parsed.data;
  }
  const config = out as Config;
  if (config.leaseRenewMs * 2 > config.leaseTtlMs) {
    throw new ConfigError("TICKWHEEL_LEASE_RENEW_MS", `expected at most half of TICKWHEEL_LEASE_TTL_MS (${config.leaseTtlMs}), got ${config.leaseRenewMs}`);
  }
  // The promoter must move a cold task into `due` before the wheel's look-ahead reaches it.
  if (config.coldAfterMs !== 0 && config.coldAfterMs < Math.max(3_000, 3 * config.lookaheadMs)) {
    throw new ConfigError(
      "TICKWHEEL_COLD_AFTER_MS",
      `expected 0 (no cold tier) or at least ${Math.max(3_000, 3 * config.lookaheadMs)} (3 x TICKWHEEL_LOOKAHEAD_MS, at least 3000), got ${config.coldAfterMs}`,
    );
  }
  if (config.backoffMaxMs < config.backoffBaseMs) {
    throw new ConfigError("TICKWHEEL_BACKOFF_MAX_MS", `expected at least TICKWHEEL_BACKOFF_BASE_MS (${config.backoffBaseMs}), got ${config.backoffMaxMs}`);
  }
  return config;
}

/**
 * One line per setting: variable, default, description (for --help), and
 * whether it is an on/off switch (the CLI accepts `--flag` alone for those).
 */
export function describeSettings(): { env: string; defaultValue: string; description: string; isSwitch: boolean }[] {
  return Object.values(settings).map((setting: Setting) => {
    const fallback = setting.schema.safeParse(undefined);
    const defaultValue = fallback.success && fallback.data !== undefined ? String(fallback.data) : "";
    const isSwitch = setting.schema.safeParse("true").success && !setting.schema.safeParse("perhaps").success;
    return { env: setting.env, defaultValue, description: setting.description, isSwitch };
  });
}
