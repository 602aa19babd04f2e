/** `bun start`: runs one node configured by environment variables (see README, Configuration). */
import { runNode } from "./node/run-node.ts";

await runNode();
