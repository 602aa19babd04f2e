/**
 * A small argv parser for the CLI: positionals, `--flag value`, `--flag=value`
 * and boolean flags (declared up front, so `--json get x` is not read as
 * `--json=get`). Unknown flags are reported by the command that parses them.
 */
interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string>;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** `known`: every flag any command takes; others are refused before a value is looked for. */
export function parseArgs(argv: string[], booleanFlags: ReadonlySet<string>, known?: ReadonlySet<string>): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      flags.set("help", "true");
      continue;
    }
    if (!arg.startsWith("--") || arg.length === 2) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (known && !known.has(name) && !booleanFlags.has(name)) throw new UsageError(`unknown option --${name}`);
    if (eq > 0) {
      flags.set(name, arg.slice(eq + 1));
    } else if (booleanFlags.has(name)) {
      flags.set(name, "true");
    } else {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
      i++;
    }
  }
  return { positionals, flags };
}

/** Throws a UsageError naming the first flag not in `allowed`. */
export function checkFlags(flags: Map<string, string>, allowed: readonly string[]): void {
  for (const name of flags.keys()) {
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
  }
}
