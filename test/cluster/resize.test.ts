// Resizing online on one Redis with 3 real node processes (docs/resharding.md): 8 -> 32 -> 8
// under a steady load of scheduling and firing, and a kill -9 of a node moving slots at the
// resize's midpoint. No task lost, none run twice, none early; every id readable throughout;
// lateness p99 of the tasks due during the resize printed (and bounded generously).
import { expect, test } from "bun:test";
import { Client } from "../../src/client/client.ts";
import { keySlot } from "../../src/core/slot.ts";
import { waitFor } from "../helpers/wait.ts";
import { faultFixture, ownersOf, shardRows, startBalanced, startRecordingNode, waitBalanced } from "./cluster-helpers.ts";
import {
  checkBeat,
  checkOutcome,
  LATENESS_P99_BOUND_MS,
  movingScheduleName,
  requestResizeTwice,
  RESIZE_ENV,
  scheduleLongRunning,
  resizeStatus,
  startBeat,
  startLoad,
  waitResized,
} from "./resize-scenario.ts";
import { randomPrefix } from "../helpers/node.ts";

const fixture = faultFixture();

test("8 -> 32 -> 8 shards on 3 nodes under load, with a schedule every 200 ms: none lost, none twice, none early, every id readable", async () => {
  const prefix = randomPrefix("rz");
  const options = { redisUrl: fixture.redis.url, prefix, env: RESIZE_ENV };
  const [n1, n2] = await startBalanced(fixture, options, ["n1", "n2", "n3"], 8);
  const client = new Client({ redisUrl: fixture.redis.url, prefix });
  // A schedule whose slot moves both ways: its occurrences must each run once, none missing.
  const beat = movingScheduleName("rz-beat");
  await startBeat(client, beat);
  const load = startLoad(client);
  await Bun.sleep(1500);

  await scheduleLongRunning(load);
  await Bun.sleep(600);
  const upFrom = Date.now();
  await requestResizeTwice([n1.url, n2.url], 32);
  await waitResized(n1.url, 32, 60_000, fixture.nodes);
  const upTo = Date.now();
  await waitBalanced(n1.url, ["n1", "n2", "n3"], 32);
  await Bun.sleep(1500);

  await scheduleLongRunning(load);
  await Bun.sleep(600);
  const downFrom = Date.now();
  await requestResizeTwice([n2.url, n1.url], 8);
  await waitResized(n2.url, 8, 60_000, fixture.nodes);
  const downTo = Date.now();
  await Bun.sleep(1500);
  await load.stop();
  // After the shrink no shard above 7 is leased.
  await waitFor(async () => (await shardRows(n1.url)).every((row) => row.shard < 8), { timeoutMs: 10_000, message: "shards 8..31 let go" });

  const up = await checkOutcome(fixture.raw, prefix, load, 8, { fromMs: upFrom, toMs: upTo }, null);
  const down = await checkOutcome(fixture.raw, prefix, load, 8, { fromMs: downFrom, toMs: downTo }, null);
  const beats = await checkBeat(fixture.raw, prefix, client, beat);
  // It ran from before the first resize to after the second (every 200 ms, each once).
  expect(beats).toBeGreaterThan((downTo - upFrom) / 200);
  console.log(
    `[resize 8->32] ${upTo - upFrom} ms, lateness of the ${up.duringResize} tasks due meanwhile: p99 ${up.latenessP99Ms} ms, max ${up.latenessMaxMs} ms\n` +
      `[resize 32->8] ${downTo - downFrom} ms, lateness of the ${down.duringResize} tasks due meanwhile: p99 ${down.latenessP99Ms} ms, max ${down.latenessMaxMs} ms\n` +
      `[resize] ${up.tasks} tasks scheduled, ${up.fired} fired, ${up.pending} pending checked, ${load.reads} reads, 0 misses; ${beats} occurrences of a 200 ms schedule, each once, none missing`,
  );
  expect(up.duringResize).toBeGreaterThan(20);
  expect(down.duringResize).toBeGreaterThan(20);
  expect(up.latenessP99Ms).toBeLessThan(LATENESS_P99_BOUND_MS);
  expect(down.latenessP99Ms).toBeLessThan(LATENESS_P99_BOUND_MS);
  await client.close();
}, 180_000);

test("kill -9 of a node moving slots at the resize's midpoint: the resize completes, the same counts hold", async () => {
  const prefix = randomPrefix("rk");
  const options = { redisUrl: fixture.redis.url, prefix, env: RESIZE_ENV };
  const [k1, k2, k3] = await startBalanced(fixture, options, ["k1", "k2", "k3"], 8);
  const client = new Client({ redisUrl: fixture.redis.url, prefix });
  // Enough far-future tasks that the move takes a while.
  const now = Date.now();
  const bulk = await client.scheduleMany(
    Array.from({ length: 6000 }, (_, i) => ({ task: "rec.run", args: {}, options: { runAt: now + 60_000 + i * 500 } })),
  );
  const load = startLoad(client);
  bulk.forEach((result, i) => {
    if (result instanceof Error) throw result;
    load.dueById.set(result.id, now + 60_000 + i * 500);
  });
  await Bun.sleep(1000);
  const from = Date.now();
  await requestResizeTwice([k1.url, k2.url], 32);
  // The victim: the node that owns source shard 0, once about half of the bulk's moving tasks have
  // moved (slots finish a source shard at a time, tasks one batch at a time).
  const moving = bulk.filter((r) => !(r instanceof Error) && keySlot(r.id) % 8 !== keySlot(r.id) % 32).length;
  await waitFor(
    async () => {
      const status = await resizeStatus(k3.url);
      return status.state === "resizing" && status.tasksMoved >= moving * 0.4 && status.slotsMoved < status.slotsTotal;
    },
    { timeoutMs: 30_000, intervalMs: 20, message: "the resize under way" },
  );
  const owners = ownersOf(await shardRows(k3.url));
  const victimId = [...owners].find(([, shards]) => shards.includes(0))![0];
  const victim = [k1, k2, k3].find((node) => node.nodeId === victimId)!;
  const midway = await resizeStatus(k3.url);
  victim.kill9();
  const survivor = [k1, k2, k3].find((node) => node !== victim)!;
  // A replacement joins, told the target count (accepted while the resize runs and after it).
  const k4 = await startRecordingNode({ ...options, env: { ...RESIZE_ENV, TICKWHEEL_SHARDS: "32" } }, "k4");
  fixture.nodes.push(k4);
  await waitResized(survivor.url, 32, 90_000, fixture.nodes);
  const to = Date.now();
  await Bun.sleep(1500);
  await load.stop();
  const outcome = await checkOutcome(fixture.raw, prefix, load, 32, { fromMs: from, toMs: to }, victimId);
  const final = await resizeStatus(survivor.url);
  console.log(
    `[resize kill -9] killed ${victimId} at ${midway.slotsMoved}/${midway.slotsTotal} slots, ${midway.tasksMoved} of ~${moving} bulk tasks moved; ` +
      `resize took ${to - from} ms; ${outcome.tasks} tasks, ${outcome.fired} fired, lateness p99 ${outcome.latenessP99Ms} ms (max ${outcome.latenessMaxMs} ms)`,
  );
  expect(final).toMatchObject({ state: "stable", count: 32 });
  expect(midway.tasksMoved).toBeLessThan(moving);
  await client.close();
}, 180_000);
