// The dashboard's schedules panel in real headless Chromium (Debian's chromium driven by
// playwright-core): it lists a schedule with its rule, next runs and last result, and its
// Pause / Resume button really pauses and resumes the schedule. A screenshot is saved to
// test-artifacts/dashboard-schedules.png.
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

declare const document: any;

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = join(ROOT, "test-artifacts", "dashboard-schedules.png");
const SLOW = 60_000;

defineTask("panel.tick", z.object({}), () => "ticked");

let redis: RedisProcess;
let node: TickwheelNode;
let client: Client;
let profile: string;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --chromium (scripts/test.sh does)`);
  redis = await startRedis();
  const prefix = randomPrefix("panel");
  node = await startInProcessNode({ redisUrl: redis.url, prefix });
  client = new Client({ redisUrl: redis.url, prefix });
  profile = await mkdtemp(join(tmpdir(), "tickwheel-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 1600 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
}, SLOW);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await client?.close();
  await node?.stop();
  await redis?.cleanup();
});

test("the schedules panel shows next runs and the last result, and pauses and resumes", async () => {
  await client.schedules.put("panel-every", { every: "500ms", task: { name: "panel.tick" } });
  await client.schedules.put("panel-nightly", { cron: "30 2 * * *", tz: "Europe/Berlin", task: { name: "panel.tick" } });
  await waitFor(async () => (await client.schedules.get("panel-every"))?.lastOccurrence?.state === "succeeded", { timeoutMs: 10_000, message: "an occurrence to succeed" });

  await page.goto(`${node.url}/`);
  const row = page.locator('#schedules tr[data-schedule="panel-every"]');
  await row.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('#schedules tr[data-schedule="panel-every"] td.last')?.textContent?.includes("succeeded"), null, { timeout: 10_000 });
  expect(await row.locator("td.state").textContent()).toBe("active");
  const nightly = page.locator('#schedules tr[data-schedule="panel-nightly"]');
  expect(await nightly.textContent()).toContain("30 2 * * * (Europe/Berlin)");
  expect(await nightly.locator("td.next").textContent()).toMatch(/T0[23]:[03]0:00\+0[12]:00/);

  await row.locator("button").click();
  await waitFor(async () => (await client.schedules.get("panel-every"))?.paused === true, { timeoutMs: 10_000, message: "the click to pause the schedule" });
  await page.waitForFunction(() => document.querySelector('#schedules tr[data-schedule="panel-every"] td.state')?.textContent === "paused", null, { timeout: 10_000 });
  expect(await row.locator("button").textContent()).toBe("Resume");
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  await row.locator("button").click();
  await waitFor(async () => (await client.schedules.get("panel-every"))?.paused === false, { timeoutMs: 10_000, message: "the click to resume the schedule" });
  await page.waitForFunction(() => document.querySelector('#schedules tr[data-schedule="panel-every"] td.state')?.textContent === "active", null, { timeout: 10_000 });
  expect(pageErrors).toEqual([]);
}, SLOW);
