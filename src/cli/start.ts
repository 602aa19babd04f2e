/**
 * `tickwheel start`: runs a node. Every setting is an environment variable
 * and also a flag (TICKWHEEL_SHARDS → --shards, REDIS_URL → --redis-url);
 * a flag wins over the variable. A bad value stops with one line naming the
 * flag or variable and what it expected.
 */
import { ConfigError, describeSettings, loadConfig } from "../config/config.ts";
import { runNode } from "../node/run-node.ts";
import { checkFlags, parseArgs, UsageError } from "./args.ts";

function flagOf(env: string): string {
  return env.replace(/^TICKWHEEL_/, "").toLowerCase().replace(/_/g, "-");
}

function startHelp(): string {
  const settings = describeSettings();
  const lines = settings.map((setting) => {
    const flag = `--${flagOf(setting.env)}${setting.isSwitch ? "" : " VALUE"}`;
    const fallback = setting.defaultValue ? ` (default ${setting.defaultValue})` : "";
    return `  ${flag.padEnd(30)} ${setting.env.padEnd(30)} ${setting.description}${fallback}`;
  });
  return [
    "usage: tickwheel start [--FLAG VALUE ...]",
    "",
    "Runs one node. Every setting comes from its environment variable or, taking precedence, its flag.",
    "Without REDIS_URL / REDIS_CLUSTER_NODES the node starts an embedded redis-server.",
    "",
    `  ${"flag".padEnd(30)} ${"environment variable".padEnd(30)} meaning`,
    ...lines,
  ].join("\n");
}

/** Resolves flags into an environment; exits 2 on a usage or configuration error. */
export async function start(argv: string[]): Promise<void> {
  const settings = describeSettings();
  const byFlag = new Map(settings.map((setting) => [flagOf(setting.env), setting]));
  const switches = new Set([...byFlag].filter(([, setting]) => setting.isSwitch).map(([flag]) => flag));
  switches.add("help");
  let env: Record<string, string | undefined>;
  const fromFlag = new Map<string, string>();
  try {
    const { positionals, flags } = parseArgs(argv, switches, new Set(byFlag.keys()));
    if (flags.has("help")) {
      console.log(startHelp());
      process.exit(0);
    }
    checkFlags(flags, [...byFlag.keys()]);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    env = { ...process.env };
    for (const [flag, value] of flags) {
      const setting = byFlag.get(flag)!;
      env[setting.env] = value;
      fromFlag.set(setting.env, flag);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`tickwheel start: ${error.message} (see tickwheel start --help)`);
    process.exit(2);
  }
  try {
    loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const flag = fromFlag.get(error.env);
    // ConfigError messages read "VARIABLE: what was expected, got …".
    const message = flag ? `--${flag} (${error.env}): ${error.message.slice(error.env.length + 2)}` : error.message;
    console.error(`tickwheel: invalid configuration: ${message}`);
    process.exit(2);
  }
  await runNode(env);
}
