// docs/migrating/from-bullmq-delayed-jobs.md: its "after" TypeScript blocks, exactly as written,
// run against a real Redis and a real node process (in-process handler), and with the webhook
// target against the guide's own receiving service.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { ROOT, startNodeProcess, type NodeProcess } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";

const GUIDE = join(ROOT, "docs/migrating/from-bullmq-delayed-jobs.md");
// Inside the repository, so `import … from "tickwheel"` resolves to this package.
const DIR = join(ROOT, "test-artifacts", `guide-bullmq-${process.pid}`);
const EMAIL_LOG = join(DIR, "emails.jsonl");
const SECRET = "guide-secret-0123456789abcdef";

/** The guide's ```ts <file> blocks, by file name. */
function guideFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of readFileSync(GUIDE, "utf8").matchAll(/```ts (\S+\.ts)\n([\s\S]*?)```/g)) files.set(match[1]!, match[2]!);
  return files;
}

function emails(): { userId: string; idempotencyKey?: string }[] {
  if (!existsSync(EMAIL_LOG)) return [];
  return readFileSync(EMAIL_LOG, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

let redis: RedisProcess;

beforeAll(async () => {
  mkdirSync(DIR, { recursive: true });
  for (const [name, text] of guideFiles()) writeFileSync(join(DIR, name), text);
  // The app's existing email code, which the guide imports: here it notes each call.
  writeFileSync(
    join(DIR, "email.ts"),
    `import { appendFileSync } from "node:fs";\n` +
      `export async function sendReminderEmail(userId: string, options: { idempotencyKey?: string } = {}) {\n` +
      `  appendFileSync(process.env.EMAIL_LOG!, JSON.stringify({ userId, ...options }) + "\\n");\n}\n`,
  );
  redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  process.env.EMAIL_LOG = EMAIL_LOG;
});

afterAll(async () => {
  await redis?.cleanup();
  rmSync(DIR, { recursive: true, force: true });
});

test("the guide has the blocks this test runs", () => {
  expect([...guideFiles().keys()].sort()).toEqual(["reminders-webhook.ts", "reminders.ts", "service.ts", "tasks.ts"]);
});

describe("after: in-process handler", () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNodeProcess({ redisUrl: redis.url, prefix: "tw", env: { TICKWHEEL_TASKS: join(DIR, "tasks.ts"), EMAIL_LOG } });
  });
  afterAll(async () => {
    await node?.terminate();
  });

  test("remindLater schedules once per user, the node's handler sends the email at the due time, cancel forgets", async () => {
    const reminders = await import(join(DIR, "reminders.ts"));
    try {
      const first = await reminders.remindLater("u1", 400);
      const again = await reminders.remindLater("u1", 400);
      expect(first).toMatchObject({ id: "reminder:u1", created: true });
      expect(again).toMatchObject({ id: "reminder:u1", created: false });
      await reminders.remindLater("u2", 60_000);
      expect((await reminders.forgetReminder("u2")).cancelled).toBe(true);

      await waitFor(() => emails().some((email) => email.userId === "u1"), { timeoutMs: 15_000, message: "the reminder email for u1" });
      const { Client } = await import("../../src/client/client.ts");
      const client = new Client({ redisUrl: redis.url });
      try {
        await waitFor(async () => (await client.get("reminder:u1"))?.state === "succeeded", { timeoutMs: 10_000, message: "reminder:u1 to succeed" });
        expect(await client.get("reminder:u1")).toMatchObject({ state: "succeeded", attempt: 1, result: { sent: true } });
        expect((await client.get("reminder:u2"))?.state).toBe("cancelled");
      } finally {
        await client.close();
      }
      expect(emails().filter((email) => email.userId === "u1")).toEqual([{ userId: "u1", idempotencyKey: "reminder:u1" }]);
      expect(emails().some((email) => email.userId === "u2")).toBe(false);
    } finally {
      await reminders.closeReminders();
    }
  }, 60_000);
});

describe("after: webhook target to the guide's service", () => {
  let node: NodeProcess;
  let service: ReturnType<typeof Bun.spawn>;
  let serviceUrl = "";

  beforeAll(async () => {
    node = await startNodeProcess({ redisUrl: redis.url, prefix: "tw", env: { TICKWHEEL_WEBHOOK_SECRET: SECRET } });
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = probe.port!;
    probe.stop(true);
    service = Bun.spawn(["bun", join(DIR, "service.ts")], { cwd: ROOT, env: { ...process.env, PORT: String(port), TICKWHEEL_WEBHOOK_SECRET: SECRET, EMAIL_LOG }, stdout: "pipe", stderr: "pipe" });
    serviceUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${serviceUrl}/`)).status === 404, { timeoutMs: 15_000, message: "the guide's service to listen" });
  }, 60_000);

  afterAll(async () => {
    service?.kill();
    await node?.terminate();
  });

  test("remindLater with a webhook target: the service verifies the signature, sends the email, its answer is the result", async () => {
    process.env.REMINDERS_SERVICE_URL = serviceUrl;
    const reminders = await import(join(DIR, "reminders-webhook.ts"));
    const { Client } = await import("../../src/client/client.ts");
    const client = new Client({ redisUrl: redis.url });
    try {
      expect(await reminders.remindLater("w1", 300)).toMatchObject({ id: "reminder:w1", created: true });
      await waitFor(async () => (await client.get("reminder:w1"))?.state === "succeeded", { timeoutMs: 15_000, message: "reminder:w1 to succeed" });
      expect(await client.get("reminder:w1")).toMatchObject({ state: "succeeded", attempt: 1, result: { sent: true }, target: { type: "webhook", url: `${serviceUrl}/hooks/reminder` } });
      expect(emails().filter((email) => email.userId === "w1")).toEqual([{ userId: "w1", idempotencyKey: "reminder:w1" }]);

      // A forged request (wrong secret) is refused by the service's check.
      const body = JSON.stringify({ id: "forged", name: "reminders.send", args: { userId: "x" }, attempt: 1, dueAt: 0, firedAt: 0 });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const { createHmac } = await import("node:crypto");
      const forged = await fetch(`${serviceUrl}/hooks/reminder`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "tickwheel-timestamp": timestamp, "tickwheel-signature": createHmac("sha256", "not-the-secret").update(`${timestamp}.${body}`).digest("hex") },
      });
      expect(forged.status).toBe(401);
      expect(emails().some((email) => email.userId === "x")).toBe(false);
    } finally {
      await client.close();
      await reminders.closeReminders();
    }
  }, 60_000);
});
