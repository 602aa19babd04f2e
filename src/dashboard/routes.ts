/**
 * Serves the dashboard: one HTML page, one stylesheet, one script, embedded
 * in the binary as text. The page is static and holds no data; everything it
 * shows comes from the API, with the token the user gives it.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import html from "./index.html" with { type: "text" };
import css from "./dashboard.css" with { type: "text" };
import script from "./dashboard.js" with { type: "text" };
import consoleCss from "./console.css" with { type: "text" };
import consoleScript from "./console.js" with { type: "text" };

const NO_CACHE = "no-cache";

export function registerDashboard(app: OpenAPIHono): void {
  // bun-types describes .html imports as HTML bundles; imported `with { type: "text" }` it is the text.
  const page = html as unknown as string;
  app.get("/", (c) => c.html(page, 200, { "Cache-Control": NO_CACHE }));
  app.get("/dashboard.css", (c) => c.body(css, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": NO_CACHE }));
  app.get("/dashboard.js", (c) => c.body(script, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": NO_CACHE }));
  // The operator's console (issue 15): task lists, the task page, actions; the same page, other views.
  app.get("/console.css", (c) => c.body(consoleCss, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": NO_CACHE }));
  app.get("/console.js", (c) => c.body(consoleScript, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": NO_CACHE }));
}
