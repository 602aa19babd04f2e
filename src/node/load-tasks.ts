/**
 * Loads the user's tasks module. "tickwheel" is registered as a virtual
 * module first, so the module's `import { defineTask } from "tickwheel"`
 * resolves to the running node's own copy: it works from the compiled
 * binary, where no node_modules/tickwheel exists, and it guarantees one
 * task registry.
 */
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import * as tickwheel from "../index.ts";

let registered = false;

export async function loadTasksModule(path: string): Promise<string> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new Error(`TICKWHEEL_TASKS: no file at ${absolute}`);
  if (!registered) {
    registered = true;
    Bun.plugin({
      name: "tickwheel-self",
      setup(build) {
        build.module("tickwheel", () => ({ exports: { ...tickwheel }, loader: "object" }));
      },
    });
  }
  await import(absolute);
  return absolute;
}
