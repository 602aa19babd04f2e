/**
 * The `tickwheel` command (the compiled binary and `bun run cli`).
 * `tickwheel start` runs a node; the rest of the CLI comes with the API issue.
 */
import { runNode } from "../node/run-node.ts";
import { describeSettings } from "../config/config.ts";

const [command = "start", ...rest] = process.argv.slice(2);

if (command === "start") {
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log("usage: tickwheel start\n\nRuns one node. Settings (environment variables):\n");
    for (const setting of describeSettings()) {
      console.log(`  ${setting.env.padEnd(32)} ${setting.description}${setting.defaultValue ? ` (default ${setting.defaultValue})` : ""}`);
    }
    process.exit(0);
  }
  await runNode();
} else {
  console.error(`tickwheel: unknown command "${command}" (try: tickwheel start --help)`);
  process.exit(2);
}
