/**
 * Every default and limit of tickwheel, once, with the reason for its value.
 * The node's config (config.ts), the client, the CLI, task input checks and
 * the HTTP schemas all read them from here, so a default cannot differ
 * between a node and a producer, or between the docs (`tickwheel start
 * --help` prints config.ts's table) and the code.
 *
 * Not here: task/codec.ts STORED_DEFAULTS. Those are part of the stored
 * format (a spec field equal to them is left out of the record), so they
 * must not follow a change of a configured default.
 */

// ------------------------------------------------------------ topology

/**
 * Shards of a new prefix. Enough to spread over a dozen nodes (each owns whole
 * shards) while each shard's actor keeps a busy window; fixed per prefix once
 * data exists (the cluster config in Redis records it).
 */
export const DEFAULT_SHARDS = 16;

/**
 * Look-ahead loaded into each shard's timer wheel. Long enough that a task is
 * in memory well before it is due (a refill or a Redis hiccup of a second
 * costs no lateness), short enough that the window stays small.
 */
export const DEFAULT_LOOKAHEAD_MS = 2000;

/**
 * Cold horizon: a task scheduled this far ahead or more waits in the compact
 * cold tier (store/lua/lib/cold.lua) until it comes within it. Far beyond the
 * look-ahead, so promotion is never on the firing path. Clients use it until
 * a node has recorded its own setting.
 */
export const DEFAULT_COLD_AFTER_MS = 15 * 60_000;

// ------------------------------------------------------------ the node

/** Redis key prefix: one prefix is one tickwheel cluster. Short, since every key carries it. */
export const DEFAULT_PREFIX = "tw";

/** HTTP port; the CLI's default address uses it too. */
export const DEFAULT_PORT = 7420;
/** Loopback: nothing listens on a network without an explicit choice (and a token). */
export const DEFAULT_HOST = "127.0.0.1";
/** Tasks running at once per node: handlers are mostly I/O-bound; memory grows with this, not with pending tasks. */
export const DEFAULT_CONCURRENCY = 64;
/** Claim this early and hold the start until the due ms: covers a claim's round trip on a LAN. */
export const DEFAULT_CLAIM_AHEAD_MS = 5;
/**
 * Pools' worth of slots that claims in flight and held tasks may reserve (see claimDepth in
 * pool/worker-pool.ts). 1 keeps the rule that nothing claimed waits in memory for a slot; more
 * overlaps claims with starts (a burst at concurrency 100 ran 100 tasks per claim round trip at
 * 1), but lets up to (depth - 1) pools' worth of claimed tasks wait in memory behind long tasks,
 * exposed to their visibility deadline. Not yet the default: see BENCHMARKS.md (issue 16).
 */
export const DEFAULT_CLAIM_DEPTH = 1;
/**
 * The pool's hold room (see holdLimit in pool/worker-pool.ts): claimed tasks a node may keep
 * beyond its free slots, held for their due ms (at 20,000 tasks a second a 100-ms claim lead holds
 * 2,000) or waiting for a slot; claims use it while fewer than half the slots run. Memory, not
 * concurrency: a claimed task in memory is about a kilobyte, and a node that dies holding it
 * leaves it to the reaper, like a running one.
 */
export const DEFAULT_HOLD_LIMIT = 5000;
/** Tasks per claim call: bounds one Lua call's run time (Redis runs nothing else meanwhile). */
export const DEFAULT_CLAIM_BATCH = 1000;
/** Task ids one shard's window holds in memory: a burst beyond it is read in slices. */
export const DEFAULT_WINDOW_CAP = 20_000;
/** A running attempt is reaped after this without a keepalive (a node renews it every third of it). */
export const DEFAULT_VISIBILITY_MS = 30_000;
/** Shard lease TTL: how long a dead node's shards stay unowned. */
export const DEFAULT_LEASE_TTL_MS = 3000;
/** Lease renewal: a third of the TTL, so two missed renewals still keep the lease. */
export const DEFAULT_LEASE_RENEW_MS = 1000;
/** On SIGTERM, in-flight tasks get this long to finish before they are aborted. */
export const DEFAULT_GRACE_MS = 10_000;
/** A pause reaches every node within this. */
export const DEFAULT_PAUSE_REFRESH_MS = 1000;

// ------------------------------------------------------------ retention

/** Finished tasks (state and result) stay readable this long: a day covers a producer's retries and a person's look. */
export const DEFAULT_RETENTION_MS = 86_400_000;
/** Dead tasks stay listed and retryable for a week: over a weekend, with room to fix and retry. */
export const DEFAULT_DEAD_RETENTION_MS = 7 * 86_400_000;

// ------------------------------------------------------------ tasks

/** maxAttempts of a task that sets none: one try and two retries ride out a brief outage. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Retry backoff of a task that sets none: 1 s doubling, at most an hour. */
export const DEFAULT_BACKOFF_BASE_MS = 1_000;
export const DEFAULT_BACKOFF_MAX_MS = 3_600_000;
/** timeoutMs of a task that sets none. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Largest args (JSON bytes): every byte is held in Redis until the task finishes. */
export const DEFAULT_MAX_ARGS_BYTES = 1024 * 1024;
/** Largest stored result (JSON bytes); a larger one is not stored (the task notes why). */
export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024;
/** Largest POST /v1/tasks/batch body: refused with 413 before it is parsed. */
export const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** Tasks per page of a listing that asks for no limit: a screenful. */
export const DEFAULT_LIST_LIMIT = 50;

// ------------------------------------------------------------ hard limits (not configurable)

/** Task ids are Redis key suffixes and appear in logs and URLs: printable ASCII, no spaces, bounded. */
export const MAX_ID_LENGTH = 200;
export const ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${MAX_ID_LENGTH}}$`);
/** Task names are Redis key parts and metric labels: bounded. */
export const MAX_NAME_LENGTH = 200;
/** The most attempts a task may ask for. */
export const MAX_ATTEMPTS_LIMIT = 1000;
/** The longest timeout a task may ask for: a week. */
export const MAX_TIMEOUT_MS = 7 * 86_400_000;
