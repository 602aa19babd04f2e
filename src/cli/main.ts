#!/usr/bin/env bun
/**
 * The `tickwheel` command (the compiled binary and `bun run cli`).
 * `tickwheel start` runs a node; every other command talks to a running node
 * over HTTP (TICKWHEEL_URL, TICKWHEEL_API_TOKEN). Exit codes mean something
 * (see USAGE), so scripts can branch on them.
 */
import { CliError, DEFAULT_URL, EXIT } from "./api.ts";
import { checkFlags, parseArgs, UsageError } from "./args.ts";
import * as commands from "./commands.ts";
import * as consoleCommands from "./console-commands.ts";
import { start } from "./start.ts";
import { runScheduleCommand, SCHEDULE_FLAGS } from "./schedule-commands.ts";

const USAGE = `usage: tickwheel <command> [options]

commands:
  start [--FLAG VALUE ...]           run a node (tickwheel start --help lists every setting)
  schedule NAME (--in DURATION | --at TIME) [--args JSON] [--id ID]
           [--priority 0-9] [--max-attempts N] [--timeout MS] [--webhook URL]
                                     schedule a task ("--in 10m", "--at 2027-01-01T09:00:00Z");
                                     --webhook: POST it to URL when due instead of a handler
  schedule [NAME] --celery TASK [--queue Q] [--kwargs JSON] (--in … | --at …) [--args JSON-ARRAY]
                                     push a Celery task onto its queue when due (NAME defaults to TASK)
  get ID                             show a task
  cancel ID                          cancel a task that has not started
  list [--state STATE] [--name NAME | --name-prefix PREFIX] [--limit N]
                                     list tasks (default: scheduled, 100); STATE: scheduled,
                                     running, succeeded, failed, dead, cancelled, expired
  run-now ID                         make a task that has not started due now
  reschedule ID (--in DURATION | --at TIME)
                                     move a task that has not started
  bulk cancel|retry|run-now|count --state STATE (--name NAME | --name-prefix PREFIX | --all)
       [--no-wait]                   act on every task the filter selects, in the background
                                     on the node; waits for the end unless --no-wait
  shards                             every shard: owner, due, in flight, next due, lateness
  shards resize [N]                  change the shard count online to N; without N, show the
                                     running (or last) resize's progress (docs/resharding.md)
  nodes                              the live nodes
  dead list [--name NAME] [--limit N]
                                     dead tasks
  dead retry ID                      requeue a dead task with fresh attempts
  pause NAME | resume NAME           pause or resume dispatch of a task name on every node
  paused                             paused task names
  schedules put NAME (--cron PATTERN [--tz ZONE] | --every DURATION) --task NAME [--args JSON]
           [--misfire skip|once|all] [--overlap allow|skip] [--start-at TIME] [--end-at TIME]
           [--paused] [--priority 0-9] [--max-attempts N] [--timeout MS]   (or --body JSON)
                                     create or replace a recurring schedule
  schedules put-many FILE            create or replace many: FILE (or - for stdin) is a JSON array of
                                     { "name": …, …the fields of PUT /v1/schedules/NAME }
  schedules get NAME | list [--prefix P] [--limit N] | pause NAME | resume NAME | delete NAME

options (commands that talk to a node):
  --url URL        node address (env TICKWHEEL_URL, default ${DEFAULT_URL})
  --token TOKEN    API token (env TICKWHEEL_API_TOKEN; prefer the variable: flags show in ps)
  --json           print the node's JSON answer instead of a table

exit codes:
  0 ok   1 unexpected failure   2 usage error or input refused (400/413/422)   3 not found
  4 conflict (e.g. the task already started)   5 unauthorized   6 node or its Redis unreachable or refusing (out of memory, read-only)`;

const COMMON = ["url", "token", "json", "help"];
const FLAGS: Record<string, string[]> = {
  schedule: ["in", "at", "args", "id", "priority", "max-attempts", "timeout", "webhook", "celery", "queue", "kwargs"],
  get: [],
  cancel: [],
  list: ["state", "name", "name-prefix", "limit"],
  "run-now": [],
  reschedule: ["in", "at"],
  bulk: ["state", "name", "name-prefix", "all", "no-wait"],
  shards: [],
  "shards resize": [],
  nodes: [],
  "dead list": ["name", "limit"],
  "dead retry": [],
  pause: [],
  resume: [],
  paused: [],
  ...SCHEDULE_FLAGS,
};

async function runClientCommand(argv: string[]): Promise<number> {
  let json = false;
  try {
    const { positionals, flags } = parseArgs(argv, new Set(["json", "help", "paused", "all", "no-wait"]), new Set([...COMMON, ...Object.values(FLAGS).flat()]));
    json = flags.has("json");
    if (flags.has("help")) {
      console.log(USAGE);
      return EXIT.ok;
    }
    const [command, ...args] = positionals;
    if (!command) {
      console.error(USAGE);
      return EXIT.usage;
    }
    const key =
      command === "dead" || command === "schedules" ? `${command} ${args[0] ?? ""}` : command === "shards" && args[0] === "resize" ? "shards resize" : command;
    const allowed = FLAGS[key];
    if (!allowed) {
      if (command === "schedules") throw new UsageError("schedules needs put, put-many, get, list, pause, resume or delete");
      throw new UsageError(command === "dead" ? `dead needs "list" or "retry ID"` : `unknown command "${command}"`);
    }
    checkFlags(flags, [...COMMON, ...allowed]);
    const url = flags.get("url") ?? process.env.TICKWHEEL_URL ?? DEFAULT_URL;
    if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`--url / TICKWHEEL_URL: expected http(s)://host:port, got ${JSON.stringify(url)}`);
    const ctx: commands.CommandContext = {
      api: { url, token: flags.get("token") ?? process.env.TICKWHEEL_API_TOKEN },
      json,
      flags,
      out: (text) => console.log(text),
    };
    const rest = key.startsWith("dead ") || key.startsWith("schedules ") || key === "shards resize" ? args.slice(1) : args;
    if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}"`);
    const [target] = rest;
    switch (key) {
      case "schedule":
        await commands.schedule(ctx, target);
        break;
      case "get":
        await commands.get(ctx, target);
        break;
      case "cancel":
        await commands.cancel(ctx, target);
        break;
      case "list": {
        const state = flags.get("state") ?? "scheduled";
        if (!consoleCommands.LIST_STATES.includes(state)) throw new UsageError(`--state: expected one of ${consoleCommands.LIST_STATES.join(", ")}, got ${JSON.stringify(state)}`);
        await commands.list(ctx, state);
        break;
      }
      case "run-now":
        await consoleCommands.runNow(ctx, target);
        break;
      case "reschedule":
        await consoleCommands.reschedule(ctx, target);
        break;
      case "bulk":
        await consoleCommands.bulk(ctx, target);
        break;
      case "shards":
        if (target !== undefined) throw new UsageError(`unexpected argument "${target}" (did you mean "shards resize N"?)`);
        await commands.shards(ctx);
        break;
      case "shards resize":
        await commands.resize(ctx, target);
        break;
      case "nodes":
        await commands.nodes(ctx);
        break;
      case "dead list":
        await commands.list(ctx, "dead");
        break;
      case "dead retry":
        await commands.retryDead(ctx, target);
        break;
      case "pause":
      case "resume":
        await commands.pause(ctx, target, key === "pause");
        break;
      case "paused":
        await commands.pausedNames(ctx);
        break;
      default:
        if (key.startsWith("schedules ")) await runScheduleCommand(ctx, key.slice("schedules ".length), target);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`tickwheel: ${error.message} (see tickwheel --help)`);
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      if (json && error.body !== undefined) console.log(JSON.stringify(error.body, null, 2));
      console.error(`tickwheel: ${error.message}`);
      return error.exitCode;
    }
    console.error(`tickwheel: ${(error as Error)?.message ?? error}`);
    return EXIT.failure;
  }
}

const argv = process.argv.slice(2);
if (argv[0] === "start") {
  await start(argv.slice(1));
} else {
  process.exitCode = await runClientCommand(argv);
}
