// The served OpenAPI document: valid OpenAPI 3.1, and true to what the routes do: every served
// /v1 and /admin route is documented (and the reverse), request bodies and query parameters accept
// exactly the documented fields and bounds, and real responses match the documented schemas for
// their status codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { compileErrors, validate } from "@readme/openapi-parser";
import { defineTask } from "../../src/task/define-task.ts";
import { createApp } from "../../src/http/app.ts";
import type { TickwheelNode } from "../../src/node/node.ts";
import { startRedis, type RedisProcess } from "../helpers/redis-server.ts";
import { randomPrefix, startInProcessNode } from "../helpers/node.ts";
import { waitFor } from "../helpers/wait.ts";
import { requester, type JsonResponse } from "./http-helpers.ts";
import { checkSchema } from "./json-schema.ts";

const TOKEN = "openapi-test-token-0123456789";
defineTask("doc.task", z.unknown(), () => "done");
defineTask("doc.fail", z.object({}), () => {
  throw new Error("always fails");
}, { maxAttempts: 1 });

let redis: RedisProcess;
let node: TickwheelNode;
let app: OpenAPIHono;
let req: ReturnType<typeof requester>;
let doc: any;

beforeAll(async () => {
  redis = await startRedis();
  node = await startInProcessNode({ redisUrl: redis.url, prefix: randomPrefix("doc"), env: { TICKWHEEL_API_TOKEN: TOKEN } });
  app = createApp(node);
  req = requester(app, TOKEN);
  doc = (await requester(app)("GET", "/openapi.json")).body;
});

afterAll(async () => {
  await node?.stop();
  await redis?.cleanup();
});

const METHODS = ["get", "post", "put", "patch", "delete"];
/** Routes that are not part of the API document: probes, metrics, the document, the dashboard. */
const UNDOCUMENTED = new Set(["GET /health", "GET /ready", "GET /metrics", "GET /openapi.json", "GET /", "GET /dashboard.css", "GET /dashboard.js", "GET /console.css", "GET /console.js"]);

function operations(): { method: string; path: string; operation: any }[] {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ method, path, operation: item[method] })),
  );
}

/** The documented operation serving a concrete request path. */
function operationFor(method: string, concretePath: string): { path: string; operation: any } | undefined {
  const bare = concretePath.split("?")[0]!;
  return operations()
    .filter((op) => op.method === method.toLowerCase())
    .map((op) => ({ ...op, regex: new RegExp(`^${op.path.replace(/\{[^}]+\}/g, "[^/]+")}$`) }))
    .sort((a, b) => a.path.split("{").length - b.path.split("{").length) // literal segments first
    .find((op) => op.regex.test(bare));
}

test("the document validates as OpenAPI 3.1", async () => {
  expect(doc.openapi).toBe("3.1.0");
  const result = await validate(structuredClone(doc));
  if (!result.valid) throw new Error(compileErrors(result));
  expect(result.valid).toBe(true);
  expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
});

test("every served /v1 and /admin route is documented, and every documented operation is served", () => {
  const served = new Set(
    app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => `${route.method} ${route.path.replace(/:([A-Za-z]+)/g, "{$1}")}`)
      .filter((route) => !UNDOCUMENTED.has(route)),
  );
  const documented = new Set(operations().map((op) => `${op.method.toUpperCase()} ${op.path}`));
  expect([...served].sort()).toEqual([...documented].sort());
  for (const { operation } of operations()) {
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["401", "503"]));
  }
});

describe("request bodies accept exactly what is documented", () => {
  const future = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  // One valid value per documented property; the test fails when a property is added to the
  // document without a sample here, so the check below always covers every property.
  const samples: Record<string, Record<string, unknown>> = {
    ScheduleTask: {
      id: "doc-sample",
      name: "doc.task",
      args: { any: ["json", 1] },
      runAt: future(2),
      delay: "1h",
      priority: 5,
      maxAttempts: 2,
      backoff: { baseMs: 10, maxMs: 100 },
      timeoutMs: 1000,
      expiresAt: future(30),
      target: { type: "webhook", url: "https://hooks.example.com/doc", headers: { authorization: "Bearer doc" }, timeoutMs: 5000 },
    },
    RescheduleTask: { runAt: future(3), delay: "2h" },
  };

  const schemaOf = (name: string) => doc.components.schemas[name];
  let counter = 0;
  const scheduleWith = async (fields: Record<string, unknown>, omit: string[] = []): Promise<JsonResponse> => {
    const body: Record<string, unknown> = { name: "doc.task", delay: "1h", ...fields };
    if ("runAt" in fields) delete body.delay;
    for (const key of omit) delete body[key];
    if (!("id" in fields)) body.id = `doc-${++counter}`;
    return req("POST", "/v1/tasks", body);
  };

  test("the samples cover every documented property", () => {
    for (const name of Object.keys(samples)) {
      expect(Object.keys(schemaOf(name).properties).sort()).toEqual(Object.keys(samples[name]!).sort());
      expect(schemaOf(name).additionalProperties).toBe(false);
    }
  });

  test("POST /v1/tasks: every documented property is accepted, an undocumented one is refused by name", async () => {
    for (const [property, value] of Object.entries(samples.ScheduleTask!)) {
      const response = await scheduleWith({ [property]: value, ...(property === "id" ? { id: `doc-sample-${counter++}` } : {}) });
      expect({ property, status: response.status }).toEqual({ property, status: 201 });
    }
    const extra = await scheduleWith({ undocumentedField: 1 });
    expect(extra.status).toBe(400);
    expect(extra.body.error.field).toBe("undocumentedField");
    for (const required of schemaOf("ScheduleTask").required) {
      const missing = await scheduleWith({}, [required]);
      expect(missing.status).toBe(400);
      expect(missing.body.error.field).toBe(required);
    }
  });

  test("POST /v1/tasks: documented integer and length bounds are the bounds the route enforces", async () => {
    const checked: string[] = [];
    const visit = async (schema: any, path: string[]) => {
      for (const [property, raw] of Object.entries<any>(schema.properties ?? {})) {
        const spec = raw.$ref ? doc.components.schemas[raw.$ref.split("/").pop()] : raw;
        const fieldPath = [...path, property];
        if (spec.type === "object") await visit(spec, fieldPath);
        const wrap = (value: unknown): Record<string, unknown> =>
          // backoff needs maxMs >= baseMs: the other field gets a value that keeps that true
          path.length === 0
            ? { [property]: value }
            : { [path[0]!]: property === "baseMs" ? { baseMs: value, maxMs: Math.max(Number(value) || 0, 100) } : { baseMs: 1, maxMs: value } };
        if (spec.type === "integer") {
          const inside = [spec.minimum, Math.min(spec.maximum, 2 ** 40)];
          const outside = [spec.minimum - 1, ...(spec.maximum < 2 ** 40 ? [spec.maximum + 1] : []), spec.minimum + 0.5];
          for (const value of inside) expect({ field: fieldPath.join("."), value, status: (await scheduleWith(wrap(value))).status }).toMatchObject({ status: 201 });
          for (const value of outside) {
            const response = await scheduleWith(wrap(value));
            expect({ field: fieldPath.join("."), value, status: response.status }).toMatchObject({ status: 400 });
            expect(response.body.error.field).toBe(fieldPath.join("."));
          }
          checked.push(fieldPath.join("."));
        }
        if (spec.type === "string" && spec.maxLength !== undefined && property === "name") {
          expect((await scheduleWith({ name: "n".repeat(spec.maxLength) })).status).toBe(201);
          expect((await scheduleWith({ name: "n".repeat(spec.maxLength + 1) })).body.error.field).toBe("name");
          expect((await scheduleWith({ name: "" })).body.error.field).toBe("name");
          checked.push("name");
        }
        if (spec.pattern) {
          expect(new RegExp(spec.pattern).test("has space")).toBe(false);
          expect((await scheduleWith({ id: "has space" })).body.error.field).toBe(property);
          checked.push(property);
        }
      }
    };
    await visit(schemaOf("ScheduleTask"), []);
    expect(checked.sort()).toEqual(["backoff.baseMs", "backoff.maxMs", "id", "maxAttempts", "name", "priority", "timeoutMs"]);
  });

  test("PATCH /v1/tasks/{id} and the batch envelope: documented properties only", async () => {
    const created = await scheduleWith({});
    for (const [property, value] of Object.entries(samples.RescheduleTask!)) {
      const response = await req("PATCH", `/v1/tasks/${created.body.id}`, { [property]: value });
      expect({ property, status: response.status }).toEqual({ property, status: 200 });
    }
    expect((await req("PATCH", `/v1/tasks/${created.body.id}`, { delay: "1h", colour: 1 })).body.error.field).toBe("colour");
    const batch = schemaOf("ScheduleBatch");
    expect(Object.keys(batch.properties)).toEqual(["tasks"]);
    expect(batch.properties.tasks.items.$ref).toBe("#/components/schemas/ScheduleTask");
    expect((await req("POST", "/v1/tasks/batch", { tasks: [{ name: "doc.task", delay: 1 }] })).status).toBe(200);
    expect((await req("POST", "/v1/tasks/batch", { tasks: [], more: 1 })).status).toBe(400);
    expect((await req("POST", "/v1/tasks/batch", { tasks: Array(batch.properties.tasks.maxItems + 1).fill({ name: "x", delay: 1 }) })).status).toBe(400);
  });

  test("GET /v1/tasks: documented query parameters, enum values and bounds", async () => {
    const parameters = doc.paths["/v1/tasks"].get.parameters;
    expect(parameters.map((p: any) => p.name).sort()).toEqual(["cursor", "limit", "name", "namePrefix", "order", "state"]);
    const state = parameters.find((p: any) => p.name === "state").schema;
    for (const value of state.enum) expect((await req("GET", `/v1/tasks?state=${value}`)).status).toBe(200);
    expect((await req("GET", "/v1/tasks?state=finished")).status).toBe(400);
    const limit = parameters.find((p: any) => p.name === "limit").schema;
    expect((await req("GET", `/v1/tasks?limit=${limit.minimum}`)).status).toBe(200);
    expect((await req("GET", `/v1/tasks?limit=${limit.maximum}`)).status).toBe(200);
    expect((await req("GET", `/v1/tasks?limit=${limit.minimum - 1}`)).status).toBe(400);
    expect((await req("GET", `/v1/tasks?limit=${limit.maximum + 1}`)).status).toBe(400);
    expect((await req("GET", "/v1/tasks?undocumented=1")).status).toBe(400);
  });
});

test("real responses match the documented schema of their status code", async () => {
  const seen: { method: string; path: string; status: number; body: unknown }[] = [];
  const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN, headers: Record<string, string> = {}) => {
    const response = await requester(app, token ?? undefined)(method, path, body, headers);
    seen.push({ method, path, status: response.status, body: response.body });
    return response;
  };

  const created = await call("POST", "/v1/tasks", { name: "doc.task", delay: "1h", args: { n: 1 } });
  await call("POST", "/v1/tasks", { id: created.body.id, name: "doc.task", delay: "1h" });
  await call("POST", "/v1/tasks", { name: "doc.task", delay: "nope" });
  await call("POST", "/v1/tasks", "{oops");
  await call("POST", "/v1/tasks", "x".repeat(2 * 1024 * 1024));
  await call("POST", "/v1/tasks", "{}", TOKEN, { "content-type": "text/plain" });
  await call("POST", "/v1/tasks", { name: "doc.task", runAt: 2_000_000_000_000, expiresAt: 1_000_000_000_000 });
  await call("GET", `/v1/tasks/${created.body.id}`);
  await call("GET", "/v1/tasks/missing");
  await call("GET", "/v1/tasks?state=scheduled&limit=2");
  await call("GET", "/v1/tasks?state=scheduled&name=doc.task&limit=1");
  await call("GET", "/v1/tasks?state=nope");
  await call("PATCH", `/v1/tasks/${created.body.id}`, { delay: "2h" });
  await call("PATCH", "/v1/tasks/missing", { delay: "2h" });
  await call("PATCH", `/v1/tasks/${created.body.id}`, { when: 1 });
  await call("DELETE", `/v1/tasks/${created.body.id}`);
  await call("DELETE", `/v1/tasks/${created.body.id}`);
  await call("PATCH", `/v1/tasks/${created.body.id}`, { delay: "2h" });
  await call("DELETE", "/v1/tasks/missing");
  await call("POST", "/v1/tasks/batch", { tasks: [{ name: "doc.task", delay: 5 }, { name: "", delay: 5 }, { name: "doc.task", runAt: 2e12, expiresAt: 1e12 }] });
  await call("POST", "/v1/tasks/batch", { tasks: [] });
  await call("POST", "/v1/tasks/batch", "{}", TOKEN, { "content-type": "text/plain" });
  const dead = await call("POST", "/v1/tasks", { name: "doc.fail", delay: 0 });
  await waitFor(async () => (await req("GET", `/v1/tasks/${dead.body.id}`)).body.state === "dead", { timeoutMs: 5000, message: "task to die" });
  await call("GET", "/v1/tasks?state=dead");
  await call("POST", `/v1/tasks/${dead.body.id}/retry`);
  await call("POST", `/v1/tasks/${dead.body.id}/retry`);
  await call("POST", "/v1/tasks/missing/retry");
  await call("POST", "/v1/names/doc.task/pause");
  await call("GET", "/v1/paused");
  await call("POST", "/v1/names/doc.task/resume");
  await call("POST", `/v1/names/${"n".repeat(201)}/pause`);
  await call("GET", "/admin/shards");
  await call("GET", "/admin/stats");
  await call("GET", "/admin/nodes");
  for (const { method, path } of operations()) {
    await call(method.toUpperCase(), path.replace(/\{[^}]+\}/g, "x"), method === "get" || method === "delete" ? undefined : {}, null);
  }

  const problems: string[] = [];
  const coveredStatuses = new Set<string>();
  for (const { method, path, status, body } of seen) {
    const found = operationFor(method, path);
    if (!found) {
      problems.push(`${method} ${path}: no documented operation`);
      continue;
    }
    const response = found.operation.responses[String(status)];
    if (!response) {
      problems.push(`${method} ${path}: status ${status} is not documented for ${method} ${found.path}`);
      continue;
    }
    coveredStatuses.add(String(status));
    const schema = response.content?.["application/json"]?.schema;
    if (schema) problems.push(...checkSchema(body, schema, doc, `${method} ${path} ${status}`));
  }
  expect(problems).toEqual([]);
  expect([...coveredStatuses].sort()).toEqual(["200", "201", "400", "401", "404", "409", "413", "415", "422"]);
});
