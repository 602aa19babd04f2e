// A zombie: a node SIGSTOP-ed for 2 x TTL while it holds shards and has tasks claimed, then
// SIGCONT-ed. The others take its shards while it sleeps; when it wakes it must start nothing it
// claimed before the pause (its monotonic clock says its leases may have lapsed), claim nothing on
// the shards it lost (fencing in Redis), notice, drop what it held, and rejoin.
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { randomPrefix } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  FAULT_LEASE_TTL_MS,
  faultEnv,
  faultFixture,
  groupById,
  type StartRecord,
  ownersOf,
  readRecords,
  shardRows,
  spreadDueTimes,
  startBalanced,
  waitAllFinished,
  waitBalanced,
} from "./cluster-helpers.ts";

const SHARDS = 12;
const TASKS = 6000;
const SPAN_MS = 12_000;
const TTL_MS = FAULT_LEASE_TTL_MS;
/** Upper bound on how long SIGSTOP takes to freeze the process once sent. */
const SIGNAL_SLACK_MS = 50;
/** Upper bound on how long after SIGCONT the handlers of tasks started just before the freeze run. */
const RESUME_SLACK_MS = 100;
// Claim well ahead of the due time, so the zombie surely holds claimed, unstarted tasks when it freezes.
const ENV = faultEnv(SHARDS, { TICKWHEEL_CLAIM_AHEAD_MS: "200" });
const fx = faultFixture();

test("SIGSTOP for 2 x TTL, then SIGCONT: the zombie starts nothing another node ran, and every task due during the pause runs once", async () => {
  const prefix = randomPrefix("zombie");
  const { redis, raw, nodes } = fx;
  const options = { redisUrl: redis.url, prefix, env: ENV };
  const [n1, zombie] = await startBalanced(fx, options, ["n1", "n2", "n3"], SHARDS);

  const client = new Client({ redisUrl: redis.url, prefix });
  const startAt = Date.now() + 1500;
  const dueTimes = spreadDueTimes(TASKS, startAt, SPAN_MS);
  const ids = dueTimes.map((_, i) => `z-${i}`);
  const dueOf = new Map(ids.map((id, i) => [id, dueTimes[i]!]));
  const results = await client.scheduleMany(ids.map((id, i) => ({ task: "rec.run", args: { sleepMs: 5 }, options: { id, runAt: dueTimes[i]! } })));
  expect(results.every((r) => !(r instanceof Error) && r.created)).toBe(true);

  await Bun.sleep(startAt + 2000 - Date.now());
  const zombieShards = ownersOf(await shardRows(n1.url)).get("n2") ?? [];
  expect(zombieShards.length).toBeGreaterThan(0);
  const pausedAt = Date.now();
  zombie.pause();
  await Bun.sleep(2 * TTL_MS);
  // While it sleeps the others hold all shards.
  const duringPause = ownersOf(await shardRows(n1.url));
  expect(duringPause.has("n2")).toBe(false);
  const resumedAt = Date.now();
  zombie.resume();

  await waitAllFinished(raw, prefix, SHARDS, 40_000);
  // It rejoins: the shards are balanced over all three again, n2 included.
  const owners = await waitBalanced(n1.url, ["n1", "n2", "n3"], SHARDS);
  expect(owners.get("n2")?.length ?? 0).toBeGreaterThan(0);
  expect(zombie.proc.exitCode).toBeNull();

  const byId = groupById(await readRecords(raw, prefix));
  expect(ids.filter((id) => !byId.has(id))).toEqual([]);

  // The signal takes a moment to land: a task due in the first ms after pausedAt may still have
  // been started on n2 before it froze.
  const frozenBy = pausedAt + SIGNAL_SLACK_MS;
  // The record is written by the handler, a few microtasks after the pool started the task; a
  // task the pool started just before the freeze can show a record time just after the resume.
  // What the pool itself measured settles it: a task claimed before the pause and started after
  // it would be ~2 x TTL late, and the zombie's largest start lateness stays far below that.
  const registry = (await (await fetch(`${n1.url}/admin/nodes`)).json()) as {
    nodes: { id: string; pool: { dropped: number }; lateness: { maxMs: number | null } }[];
  };
  const zombieEntry = registry.nodes.find((node) => node.id === "n2")!;
  expect(zombieEntry.lateness.maxMs!).toBeLessThan(TTL_MS / 2);
  // It did hold claimed tasks when it froze, and dropped them unstarted when it woke.
  expect(zombieEntry.pool.dropped).toBeGreaterThan(0);
  const inFlightAtFreeze = (start: StartRecord) =>
    start.node === "n2" && dueOf.get(start.id)! <= frozenBy && (start.atMs <= frozenBy || start.atMs <= resumedAt + RESUME_SLACK_MS);

  const zombieAfter = [...byId.values()].flat().filter((s) => s.node === "n2" && s.atMs >= resumedAt && !inFlightAtFreeze(s));
  const rel = (ms: number) => ms - resumedAt;
  const describe = (id: string) => ({ id, dueAfterResume: rel(dueOf.get(id)!), starts: byId.get(id)!.map((s) => `${s.node}@${rel(s.atMs)}#${s.attempt}`) });
  // Nothing the zombie started after waking was also started by another node...
  expect(zombieAfter.filter((start) => byId.get(start.id)!.length > 1).map((start) => describe(start.id))).toEqual([]);
  // ...and none of it was due before it woke: nothing claimed before the pause (nor anything the
  // others took over meanwhile) started on it afterwards.
  expect(zombieAfter.filter((s) => dueOf.get(s.id)! < resumedAt).map((start) => describe(start.id))).toEqual([]);

  // Every task due during the pause ran exactly once, all on the other nodes.
  const dueDuringPause = ids.filter((id) => dueOf.get(id)! >= frozenBy && dueOf.get(id)! <= resumedAt);
  expect(dueDuringPause.length).toBeGreaterThan(1000);
  const notOnce = dueDuringPause.filter((id) => byId.get(id)!.length !== 1 || byId.get(id)![0]!.node === "n2");
  expect(notOnce.map(describe)).toEqual([]);

  // The only tasks that ran twice were started by the zombie before it froze (in flight then).
  const duplicates = [...byId].filter(([, starts]) => starts.length > 1);
  for (const [id, starts] of duplicates) {
    const [first, ...rest] = [...starts].sort((a, b) => (inFlightAtFreeze(a) ? -1 : inFlightAtFreeze(b) ? 1 : a.atMs - b.atMs));
    expect({ ...describe(id), ok: inFlightAtFreeze(first!) && rest.every((s) => s.node !== "n2") }).toEqual({ ...describe(id), ok: true });
  }
  const dropped = zombieEntry.pool.dropped;
  // Informational (the node logs at warn in these tests): how often it said it had lost a lease.
  const noticed = zombie.output().split("\n").filter((line) => /lease lost|lapsed|claim refused/.test(line)).length;
  // The zombie's own clock kept it from even sending a claim on the shards it lost while frozen.
  expect(zombie.output().split("\n").filter((line) => /claim refused/.test(line))).toEqual([]);
  console.log(
    `zombie n2 (shards ${zombieShards.join(",")}) paused ${resumedAt - pausedAt} ms: ${zombieAfter.length} starts after waking, none shared or due before; ` +
      `${dueDuringPause.length} tasks due during the pause ran once each; ${duplicates.length} duplicates (in flight when it froze); ` +
      `${dropped} claimed before the pause dropped unstarted; largest start lateness on n2 ${zombieEntry.lateness.maxMs} ms; ${noticed} lease-lost log lines; owns ${owners.get("n2")?.join(",")} after rejoining`,
  );
  await client.close();
  for (const node of nodes) expect(await node.terminate()).toBe(0);
}, 60_000);
