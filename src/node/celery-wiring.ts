/**
 * The node's Celery side, opened at start when TICKWHEEL_CELERY_BROKER_URL
 * (the target) or TICKWHEEL_CELERY_RESULT_URL (results in GET
 * /v1/tasks/:id) is set.
 *
 * Whether the broker is tickwheel's own Redis server is decided here, once:
 * equal `run_id`s (INFO server) mean one server process, whatever the URLs
 * say (localhost vs 127.0.0.1, another port forwarded to it, a different
 * database). Then hand-offs are one script (finish + LPUSH). On a Redis
 * Cluster, or if the comparison fails (the broker is down at start), the
 * target pushes, then finishes (see the README's Guarantees).
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../core/log.ts";
import { CeleryBroker, CeleryResults } from "../store/celery-broker.ts";
import type { Store } from "../store/store.ts";
import { CeleryDeliveryTarget } from "../pool/targets/celery/celery-target.ts";
import { DEFAULT_TRANSPORT } from "../pool/targets/celery/message.ts";

export interface CeleryWiring {
  target: CeleryDeliveryTarget | null;
  results: CeleryResults | null;
  close(): Promise<void>;
}

export async function openCelery(config: Config, store: Store, nodeId: string, log: Logger, onRedisError: (error: Error) => void): Promise<CeleryWiring | null> {
  if (!config.celeryBrokerUrl && !config.celeryResultUrl) return null;
  const broker = config.celeryBrokerUrl ? new CeleryBroker(config.celeryBrokerUrl, onRedisError) : null;
  const results = config.celeryResultUrl ? new CeleryResults(config.celeryResultUrl, onRedisError) : null;
  let target: CeleryDeliveryTarget | null = null;
  if (broker) {
    let sameServer = false;
    try {
      const [ours, theirs] = await Promise.all([store.celery.serverRunId(), broker.runId()]);
      sameServer = ours !== null && ours === theirs;
    } catch (error) {
      log.warn({ err: String(error) }, "could not tell whether the Celery broker is tickwheel's own Redis; pushing, then finishing");
    }
    target = new CeleryDeliveryTarget({
      broker,
      sameServer: sameServer ? { store: store.celery, brokerDb: broker.db } : undefined,
      transport: { ...DEFAULT_TRANSPORT, keyPrefix: config.celeryKeyPrefix },
      origin: `tickwheel@${nodeId}`,
      retentionMs: config.retentionMs,
    });
    log.info(
      { broker: redact(config.celeryBrokerUrl!), handoff: sameServer ? "one script (same server)" : "push, then finish" },
      "celery target ready",
    );
  }
  return {
    target,
    results,
    close: async () => {
      await Promise.all([broker?.close(), results?.close()]);
    },
  };
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
