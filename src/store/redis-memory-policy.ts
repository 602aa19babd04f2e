/**
 * Reads Redis' maxmemory-policy: whether Redis may delete keys when its
 * memory fills. Only `noeviction` keeps every key (writes are refused
 * instead, which tickwheel reports as redis_out_of_memory); under any other
 * policy Redis deletes keys of its choosing, and a scheduled task whose
 * record or due entry is evicted vanishes without a trace (allkeys-*), or
 * final records and leases go early (volatile-*: they carry TTLs).
 *
 * Managed services (some ElastiCache, Memorystore, Upstash plans) refuse or
 * rename CONFIG: the policy is then "unknown" and the caller decides.
 * On a Redis Cluster every master is asked, and the riskiest answer wins.
 */
import { Cluster } from "ioredis";
import { openConnection, type Connection, type ConnectionTarget } from "./connection.ts";

export interface MemoryPolicy {
  /** The policy as Redis names it, or "unknown" when CONFIG GET was refused. */
  policy: string;
  /** true: Redis may evict tickwheel's keys; false: noeviction; null: unknown. */
  evicting: boolean | null;
  /** Why it is unknown (Redis' answer to CONFIG GET). */
  reason?: string;
}

export const SAFE_POLICY = "noeviction";

export async function readMemoryPolicy(connection: Connection): Promise<MemoryPolicy> {
  // A fresh cluster connection knows its masters once the slots are loaded: one command does that.
  if (connection instanceof Cluster && connection.nodes("master").length === 0) await connection.ping();
  const servers = connection instanceof Cluster ? connection.nodes("master") : [connection];
  const seen: MemoryPolicy[] = await Promise.all(servers.map((server) => readOne(server as Exclude<Connection, Cluster>)));
  return seen.find((p) => p.evicting === true) ?? seen.find((p) => p.evicting === null) ?? seen[0] ?? { policy: "unknown", evicting: null, reason: "no server" };
}

async function readOne(server: Exclude<Connection, Cluster>): Promise<MemoryPolicy> {
  let reply: unknown;
  try {
    reply = await server.config("GET", "maxmemory-policy");
  } catch (error) {
    const message = String((error as Error)?.message ?? error);
    // Unreachable is not "unknown": the caller retries at its next check.
    if (/ECONNREFUSED|Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|ETIMEDOUT/i.test(message)) throw error;
    return { policy: "unknown", evicting: null, reason: message };
  }
  const flat = (reply as string[]) ?? [];
  const policy = flat[1];
  if (typeof policy !== "string" || policy === "") return { policy: "unknown", evicting: null, reason: "CONFIG GET maxmemory-policy answered nothing" };
  return { policy, evicting: policy !== SAFE_POLICY };
}

/**
 * readMemoryPolicy on a connection of its own, closed afterwards: for a
 * check every minute or so this keeps CONFIG (which managed services may
 * answer slowly or refuse) off the connection the hot path pipelines on.
 */
export async function readMemoryPolicyAt(target: ConnectionTarget): Promise<MemoryPolicy> {
  const connection = openConnection(target, "tickwheel-config-check");
  // Errors surface through the command below; the event would otherwise be unhandled.
  connection.on("error", () => {});
  try {
    return await readMemoryPolicy(connection);
  } finally {
    connection.disconnect();
  }
}
