// The operator's console (issue 15) in real headless Chromium (Debian's chromium driven by
// playwright-core) against a real node and redis-server: the token asked once, a task opened by
// id from the search box, the scheduled list in due order with the time left, a failed task's
// page with each attempt's error, run-now making a week-out task run within a second, a bulk
// cancel of 5,000 tasks of one name with the count confirmed and shown (other names untouched),
// the page at phone width, and screenshots of the overview, a list and a task page (the
// directory is printed; TICKWHEEL_ARTIFACTS sets it, else a fresh temp dir).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { z } from "zod";
import { defineTask } from "../../src/task/define-task.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { Client } from "../../src/client/client.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

// Callbacks given to page.evaluate run in the browser; this project's TypeScript has no DOM lib.
declare const document: any;
declare const window: any;

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "console-ui-token-0123456789";
const SLOW = 90_000;

const ranAt = new Map<string, number>();
defineTask("ui.work", z.object({}).passthrough(), (_args, ctx) => {
  ranAt.set(ctx.id, Date.now());
  return { ok: true, id: ctx.id };
});
const flaky = defineTask("ui.flaky", z.object({}), (_args, ctx) => {
  throw new Error(`attempt ${ctx.attempt} could not reach the mail server`);
}, { maxAttempts: 3, backoff: { baseMs: 50, maxMs: 50 } });

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
let profile: string;
let artifacts: string;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --chromium (scripts/test.sh does)`);
  redis = await startRedis();
  const prefix = randomPrefix("ui");
  node = await startInProcessNode({ redisUrl: redis.url, prefix, env: { TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_SHARDS: "6" } });
  client = new Client({ redisUrl: redis.url, prefix });
  profile = await mkdtemp(join(tmpdir(), "tickwheel-chromium-"));
  artifacts = process.env.TICKWHEEL_ARTIFACTS ?? (await mkdtemp(join(tmpdir(), "tickwheel-console-shots-")));
  mkdirSync(artifacts, { recursive: true });
  console.log(`console screenshots: ${artifacts}`);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && !/401/.test(message.text())) pageErrors.push(message.text());
  });
  // The token, asked once: the first view answers 401 and the page asks for it.
  await page.goto(`${node.url}/`);
  await page.waitForSelector("#token-form:not([hidden])", { timeout: 10_000 });
  await page.fill("#token-input", TOKEN);
  await page.click("#token-form button");
  await page.waitForFunction(() => document.querySelectorAll("#shards tbody tr").length > 0, null, { timeout: 10_000 });
}, SLOW);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

const field = (name: string) => page.textContent(`#task-fields dd[data-field="${name}"]`);

test("search an id and open its page: name, state, due time in the viewer's zone and UTC, pretty args truncated with an expand", async () => {
  const big = "x".repeat(3000);
  const { id } = await client.schedule("ui.work", { user: 42, note: big }, { id: "ui-search-1", delay: "1h" });
  await page.goto(`${node.url}/#/`);
  await page.fill("#search-input", id);
  await page.press("#search-input", "Enter");
  await page.waitForSelector('#task-fields dd[data-field="name"]', { timeout: 10_000 });
  expect(await page.evaluate(() => window.location.hash)).toBe("#/task/ui-search-1");
  expect(await field("name")).toBe("ui.work");
  expect(await field("state")).toBe("scheduled");
  const due = (await field("due"))!;
  expect(due).toContain("Z ·"); // UTC
  expect(due).toMatch(/\(.+\)/); // the viewer's zone
  expect(due).toMatch(/in (59|60) min/);
  expect(await field("target")).toBe('{"type":"handler"}');
  expect(await field("shard")).toBe(String(await client.shardOf(id)));
  expect(await field("node")).toBe(node.nodeId);
  const args = (await page.textContent("#task-args"))!;
  expect(args).toContain('"user": 42');
  expect(args.length).toBeLessThan(2100);
  await page.click("#args-expand");
  await page.waitForFunction(() => (document.querySelector("#task-args")?.textContent ?? "").length > 3000, null, { timeout: 5000 });
  await page.screenshot({ path: join(artifacts, "task-scheduled.png"), fullPage: true });
}, SLOW);

test("the scheduled list shows tasks in due order with the time left", async () => {
  const now = Date.now();
  // Inside the cold horizon and over several shards, scheduled out of order.
  const minutes = [7, 2, 11, 4, 9, 1, 13, 6, 3, 12, 5, 8];
  await client.scheduleMany(minutes.map((m, i) => ({ task: "ui.list", args: { i }, options: { id: `ui-list-${i}`, runAt: now + m * 60_000 } })));
  await page.goto(`${node.url}/#/tasks/scheduled?name=ui.list`);
  await page.waitForFunction((n) => document.querySelectorAll("#task-list tbody tr").length === n, minutes.length, { timeout: 10_000 });
  const rows = await page.$$eval("#task-list tbody tr", (trs) => trs.map((tr: any) => ({ due: Number(tr.dataset.due), left: tr.querySelector(".time-left")?.textContent })));
  const dues = rows.map((row) => row.due);
  expect(dues).toEqual([...dues].sort((a, b) => a - b));
  expect(dues).toEqual(minutes.map((m) => now + m * 60_000).sort((a, b) => a - b));
  expect(rows[0]!.left).toMatch(/^in (59|60) s$/);
  expect(rows[rows.length - 1]!.left).toBe("in 13 min");
  await page.screenshot({ path: join(artifacts, "list-scheduled.png"), fullPage: true });
}, SLOW);

test("a failed task's page shows each attempt's error", async () => {
  const { id } = await client.schedule(flaky, {}, { id: "ui-failed-1", delay: 0 });
  await waitFor(async () => (await client.get(id))?.state === "dead", { timeoutMs: 15_000, message: "flaky task to die" });
  await page.goto(`${node.url}/#/task/${id}`);
  await page.waitForSelector("#task-attempts tbody tr", { timeout: 10_000 });
  const attempts = await page.$$eval("#task-attempts tbody tr", (trs) => trs.map((tr: any) => tr.textContent));
  expect(attempts).toHaveLength(3);
  for (const [i, text] of attempts.entries()) expect(text).toContain(`attempt ${i + 1} could not reach the mail server`);
  expect(await field("state")).toBe("dead");
  expect(await page.textContent("#console-view")).not.toContain("null");
  await page.screenshot({ path: join(artifacts, "task-dead.png"), fullPage: true });
  // Its retry button requeues it.
  await page.click('button[data-action="retry"]');
  await waitFor(async () => (await client.get(id))?.state !== "dead", { timeoutMs: 5000, message: "retry to requeue" });
}, SLOW);

test("run-now makes a task due in a week run within a second", async () => {
  const { id } = await client.schedule("ui.work", {}, { id: "ui-week-1", delay: "7d" });
  await page.goto(`${node.url}/#/task/${id}`);
  await page.waitForSelector('button[data-action="run-now"]', { timeout: 10_000 });
  expect(await field("due")).toContain("in 7 d");
  const clicked = Date.now();
  await page.click('button[data-action="run-now"]');
  await waitFor(() => ranAt.has(id), { timeoutMs: 5000, message: "run-now task to run" });
  expect(ranAt.get(id)! - clicked).toBeLessThan(1000);
  await page.waitForFunction(() => document.querySelector("#task-state")?.textContent === "succeeded", null, { timeout: 10_000 });
  expect(await page.textContent("#task-result")).toContain('"ok": true');
}, SLOW);

test("a bulk cancel of 5,000 pending tasks of one name completes with the count shown and leaves other names alone", async () => {
  const now = Date.now();
  await client.scheduleMany(Array.from({ length: 5000 }, (_, i) => ({ task: "ui.bulk", args: { i }, options: { id: `ui-bulk-${i}`, runAt: now + 86_400_000 + i } })));
  await client.scheduleMany(Array.from({ length: 30 }, (_, i) => ({ task: "ui.keep", args: { i }, options: { id: `ui-keep-${i}`, runAt: now + 86_400_000 + i } })));
  await page.goto(`${node.url}/#/tasks/scheduled?name=ui.bulk`);
  await page.waitForFunction(() => document.querySelectorAll("#task-list tbody tr").length === 50, null, { timeout: 10_000 });
  await page.click('button.bulk[data-action="cancel"]');
  await page.waitForSelector("#confirm-text", { timeout: 30_000 });
  expect(await page.textContent("#confirm-text")).toBe('Cancel 5,000 scheduled tasks whose name starts with "ui.bulk"?');
  await page.click("#confirm-yes");
  await page.waitForSelector('#bulk-progress[data-status="done"]', { timeout: 60_000 });
  expect(await page.getAttribute("#bulk-progress", "data-done")).toBe("5000");
  expect(await page.textContent("#bulk-progress")).toContain("Done: 5,000 tasks cancelled");
  await page.waitForFunction(() => document.querySelectorAll("#task-list tbody tr").length === 0, null, { timeout: 10_000 });
  expect((await client.list({ state: "scheduled", name: "ui.bulk" })).tasks).toEqual([]);
  let kept = 0;
  let cursor: string | undefined;
  do {
    const listed = await client.list({ state: "scheduled", name: "ui.keep", limit: 500, ...(cursor ? { cursor } : {}) });
    kept += listed.tasks.length;
    cursor = listed.nextCursor ?? undefined;
  } while (cursor);
  expect(kept).toBe(30);
  expect((await client.get("ui-bulk-4999"))?.state).toBe("cancelled");
  await page.goto(`${node.url}/#/tasks/cancelled?name=ui.bulk`);
  await page.waitForFunction(() => document.querySelector("#task-list")?.dataset.state === "cancelled" && document.querySelectorAll("#task-list tbody tr").length === 50, null, { timeout: 30_000 })
    .catch(async (error) => {
      throw new Error(`${error.message}; page info: ${await page.textContent("#page-info").catch(() => "?")}; status: ${await page.textContent("#status")}`);
    });
  await page.screenshot({ path: join(artifacts, "list-cancelled.png"), fullPage: true });
}, SLOW);

test("a recurring schedule's occurrence shows its schedule on its page", async () => {
  await client.schedules.put("ui-beat", { every: "1h", task: { name: "ui.beat" } });
  let occurrenceId = "";
  await waitFor(async () => {
    const listed = await client.list({ state: "scheduled", name: "ui.beat", limit: 10 });
    occurrenceId = listed.tasks.find((task) => (task as { schedule?: unknown }).schedule !== undefined)?.id ?? "";
    return occurrenceId !== "";
  }, { timeoutMs: 20_000, message: "the schedule's next occurrence to be planted" });
  await page.goto(`${node.url}/#/task/${encodeURIComponent(occurrenceId)}`);
  await page.waitForSelector("#task-schedule", { timeout: 10_000 });
  expect(await page.textContent("#task-schedule")).toMatch(/^ui-beat · occurrence of \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
}, SLOW);

test("overview, list and task page at phone width (390 px) without sideways scrolling; screenshots saved", async () => {
  await page.goto(`${node.url}/#/`);
  await page.waitForFunction(() => document.querySelectorAll("#shards tbody tr").length > 0, null, { timeout: 10_000 });
  // The charts are the cluster's (every live node summed), with each node's one click away.
  await page.waitForSelector(`#chart-scope button[data-node="${node.nodeId}"]`, { timeout: 10_000 });
  expect(await page.textContent(".charts figcaption")).toContain("(all nodes)");
  await page.click(`#chart-scope button[data-node="${node.nodeId}"]`);
  expect(await page.textContent(".charts figcaption")).toContain(`(node ${node.nodeId})`);
  await page.waitForFunction(() => Number(document.querySelector("#chart-fired")?.dataset.points ?? 0) > 0, null, { timeout: 10_000 });
  await page.click('#chart-scope button[data-node=""]');
  expect(await page.textContent(".charts figcaption")).toContain("(all nodes)");
  await page.screenshot({ path: join(artifacts, "overview.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, ready, shot] of [
    ["#/", "#shards tbody tr", "phone-overview.png"],
    ["#/tasks/scheduled?name=ui.list", "#task-list tbody tr", "phone-list.png"],
    ["#/task/ui-search-1", '#task-fields dd[data-field="name"]', "phone-task.png"],
  ] as const) {
    await page.goto(`${node.url}/${hash}`);
    await page.waitForSelector(ready, { timeout: 10_000 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(artifacts, shot), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 1000 });
  for (const shot of ["overview.png", "list-scheduled.png", "task-dead.png", "phone-list.png"]) expect(existsSync(join(artifacts, shot))).toBe(true);
  expect(pageErrors).toEqual([]);
}, SLOW);
