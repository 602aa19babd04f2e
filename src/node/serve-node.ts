/**
 * The one place that joins a node and its HTTP API: starts the node, then
 * serves the app in front of it and attaches the server as the node's front
 * end (advertised in the registry, closed last by node.stop()). The node
 * imports nothing of HTTP and the app sees the node only through AppNode, so
 * neither imports the other.
 */
import { createApp } from "../http/app.ts";
import type { TickwheelNode } from "./node.ts";

/** Starts `node` and its API on config.host:config.port (0: any free port). */
export async function startServedNode(node: TickwheelNode): Promise<void> {
  await node.start();
  const server = Bun.serve({ port: node.config.port, hostname: node.config.host, fetch: createApp(node).fetch });
  // 0.0.0.0 is where it listens, not an address anyone can reach it at; loopback is.
  const host = node.config.host === "0.0.0.0" ? "127.0.0.1" : node.config.host;
  node.attachFrontEnd({ url: `http://${host}:${server.port}`, close: () => server.stop(true) });
  node.log.info({ nodeId: node.nodeId, url: node.url }, "http api listening");
}
