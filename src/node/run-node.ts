/**
 * Starting a node from a validated config: the embedded redis-server when no
 * Redis is configured, then the node, then signal handling for a graceful
 * stop. Shared by `bun start` and `tickwheel start`.
 */
import { loadConfig, ConfigError, type Config } from "../config/config.ts";
import { createLogger } from "../core/log.ts";
import { TickwheelNode } from "./node.ts";
import { redisErrorKind, RedisRefusal } from "../store/redis-errors.ts";
import { startServedNode } from "./serve-node.ts";
import { startEmbeddedRedis, type EmbeddedRedis } from "./embedded-redis.ts";

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export async function runNode(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tickwheel: invalid configuration: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  if (!LOOPBACK.test(config.host) && !config.apiToken && !config.allowInsecure) {
    console.error(
      `tickwheel: invalid configuration: TICKWHEEL_HOST: refusing to listen on ${config.host} without TICKWHEEL_API_TOKEN ` +
        `(set a token, or TICKWHEEL_ALLOW_INSECURE=true if this is intended)`,
    );
    process.exit(2);
  }
  const log = createLogger(config.logLevel);

  let embedded: EmbeddedRedis | null = null;
  if (!config.redisUrl && !config.redisClusterNodes) {
    try {
      embedded = await startEmbeddedRedis({ dataDir: config.dataDir, log: (msg) => log.info(msg) });
    } catch (error) {
      console.error(`tickwheel: could not start the embedded redis-server: ${(error as Error).message}`);
      process.exit(1);
    }
    config = { ...config, redisUrl: embedded.url };
  }

  const node = new TickwheelNode(config, log);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "signal received");
    try {
      await node.stop();
      await embedded?.stop();
      process.exit(0);
    } catch (error) {
      log.error({ err: String(error) }, "stop failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  try {
    await startServedNode(node);
  } catch (error) {
    // Redis' own words for its refusals and outages (the store types them; its detail keeps the text).
    const message = error instanceof RedisRefusal ? error.detail : (error as Error).message;
    const unreachable = redisErrorKind(error) === "connection";
    console.error(unreachable ? `tickwheel: could not start: Redis unreachable at ${describeRedis(config)} (${message})` : `tickwheel: could not start: ${message}`);
    await node.stop().catch(() => {});
    await embedded?.stop();
    process.exit(1);
  }
  console.log(`tickwheel node ${node.nodeId} listening on ${node.url} (redis ${embedded ? `embedded at ${embedded.url}, data in ${config.dataDir}` : "external"})`);
}

/** Where the node looks for Redis, with any password hidden. */
function describeRedis(config: Config): string {
  if (config.redisClusterNodes) return `cluster ${config.redisClusterNodes.join(",")}`;
  try {
    const url = new URL(config.redisUrl ?? "");
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "REDIS_URL";
  }
}
