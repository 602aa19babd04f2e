// The dashboard in real headless Chromium (Debian's chromium driven by playwright-core): the page
// loads from the node, asks for and uses the API token, shows every shard, draws both charts from
// live data, and its retry button really requeues a dead task. A screenshot is saved to
// test-artifacts/dashboard.png.
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
import { randomPrefix, ROOT, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

// The callbacks given to page.evaluate/waitForFunction run in the browser. This project's
// TypeScript has no DOM lib (server code must not see one), so the page's globals are declared
// here, for this module only.
declare const document: any;

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dashboard-test-token-0123456789";
const SCREENSHOT = join(ROOT, "test-artifacts", "dashboard.png");
const SLOW = 60_000;

let failing = true;
const flaky = defineTask("dash.flaky", z.object({}), () => {
  if (failing) throw new Error("dashboard test failure");
  return "recovered";
}, { maxAttempts: 1 });
const work = defineTask("dash.work", z.object({}), () => "ok");

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
let profile: string;
let context: BrowserContext;
let hookServer: ReturnType<typeof Bun.serve>;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --chromium (scripts/test.sh does)`);
  redis = await startRedis();
  const prefix = randomPrefix("dash");
  hookServer = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("no such hook", { status: 404 }) });
  node = await startInProcessNode({ redisUrl: redis.url, prefix, env: { TICKWHEEL_API_TOKEN: TOKEN, TICKWHEEL_SHARDS: "6", TICKWHEEL_WEBHOOK_SECRET: "dashboard-webhook-secret-0123" } });
  client = new Client({ redisUrl: redis.url, prefix });
  profile = await mkdtemp(join(tmpdir(), "tickwheel-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 1400 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    // 401s before the token is entered are expected; anything else is a bug in the page.
    if (message.type() === "error" && !/401/.test(message.text())) pageErrors.push(message.text());
  });
}, SLOW);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
  hookServer?.stop(true);
});

/** Pixels of the chart canvas that are neither transparent nor white (the drawn lines and text). */
function inkedPixels(selector: string): Promise<number> {
  return page.evaluate((sel) => {
    const canvas = document.querySelector(sel) as any;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0 && !(data[i]! > 240 && data[i + 1]! > 240 && data[i + 2]! > 240)) inked++;
    return inked;
  }, selector);
}

test("the page asks for the token, then shows every shard, draws both charts, and requeues a dead task", async () => {
  // Live traffic for the charts: tasks firing over the next two seconds, and one that dies.
  const now = Date.now();
  await client.scheduleMany(Array.from({ length: 300 }, (_, i) => ({ task: work, args: {}, options: { runAt: now + 100 + (i % 20) * 100 } })));
  const doomed = await client.schedule(flaky, {}, { delay: 0, id: "dash-dead-1" });
  await waitFor(async () => (await client.get(doomed.id))?.state === "dead", { timeoutMs: 5000, message: "task to die" });
  // A webhook task whose endpoint answers 404 dies too: the table shows where it was sent.
  const hookUrl = `http://127.0.0.1:${hookServer.port}/hooks/missing`;
  await client.schedule("dash.hook", { n: 1 }, { delay: 0, id: "dash-dead-hook", target: { type: "webhook", url: hookUrl } });
  await waitFor(async () => (await client.get("dash-dead-hook"))?.state === "dead", { timeoutMs: 5000, message: "webhook task to die" });

  await page.goto(`${node.url}/`);
  await page.waitForSelector("#token-form:not([hidden])", { timeout: 10_000 });
  await page.fill("#token-input", TOKEN);
  await page.click("#token-form button");

  // Every shard, each owned by this node.
  await page.waitForFunction((count) => document.querySelectorAll("#shards tbody tr").length === count, node.shards, { timeout: 10_000 });
  const rows = await page.$$eval("#shards tbody tr", (trs) => trs.map((tr) => ({ shard: (tr as any).dataset.shard, text: tr.textContent ?? "" })));
  expect(rows.map((row) => Number(row.shard))).toEqual([...Array(node.shards).keys()]);
  for (const row of rows) expect(row.text).toContain(node.nodeId);
  await page.waitForFunction((id) => document.querySelector("#nodes tbody")?.textContent?.includes(id), node.nodeId, { timeout: 10_000 });

  // Both charts drew points from the last seconds' starts and lateness.
  await waitFor(async () => (await client.get("dash-dead-1")) !== null && (await page.$eval("#chart-fired", (c) => Number((c as any).dataset.points ?? 0))) > 0, {
    timeoutMs: 15_000,
    message: "fired/s chart to draw points",
  });
  await page.waitForFunction(() => Number((document.querySelector("#chart-lateness") as any).dataset.points ?? 0) > 0, null, { timeout: 15_000 });
  expect(await inkedPixels("#chart-fired")).toBeGreaterThan(500);
  expect(await inkedPixels("#chart-lateness")).toBeGreaterThan(500);
  expect(Number(await page.textContent("#total-shards"))).toBe(node.shards);
  expect(await page.isHidden("#token-form")).toBe(true);

  // The dead task is listed with its error; its retry button requeues it for real.
  const deadRow = page.locator('tr[data-dead-id="dash-dead-1"]');
  await deadRow.waitFor({ timeout: 10_000 });
  expect(await deadRow.textContent()).toContain("dashboard test failure");
  expect(await deadRow.locator("td").nth(2).textContent()).toBe("handler");
  const hookRow = page.locator('tr[data-dead-id="dash-dead-hook"]');
  await hookRow.waitFor({ timeout: 10_000 });
  expect(await hookRow.locator("td").nth(2).textContent()).toBe(`webhook ${hookUrl}`);
  expect(await hookRow.textContent()).toContain("webhook answered 404 Not Found: no such hook");
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  failing = false;
  await deadRow.locator("button.retry").click();
  await waitFor(async () => (await client.get("dash-dead-1"))?.state === "succeeded", { timeoutMs: 10_000, message: "requeued task to run and succeed" });
  const task = await client.get("dash-dead-1");
  expect(task).toMatchObject({ state: "succeeded", attempt: 1, result: "recovered" });
  await deadRow.waitFor({ state: "detached", timeout: 10_000 });
  expect(await page.textContent("#status")).not.toContain("failed");

  expect(pageErrors).toEqual([]);
  expect(existsSync(SCREENSHOT)).toBe(true);
}, SLOW);

test("a task looked up by id shows its target (a Celery one here)", async () => {
  await client.schedule("app.tasks.send_email", ["ada@example.com"], {
    delay: "1h",
    id: "dash-celery-1",
    target: { type: "celery", task: "app.tasks.send_email", queue: "mail", priority: 3 },
  });
  await page.goto(`${node.url}/`);
  await page.fill("#task-id", "dash-celery-1");
  await page.click("#task-form button");
  const targetRow = page.locator('#task tr[data-field="target"]');
  await targetRow.waitFor({ timeout: 10_000 });
  expect(await targetRow.textContent()).toContain("celery app.tasks.send_email (queue mail, priority 3)");
  expect(await page.locator('#task tr[data-field="state"]').textContent()).toContain("scheduled");
  expect(pageErrors).toEqual([]);
}, SLOW);
