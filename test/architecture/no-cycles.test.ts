// The import graph of src/**/*.ts has no cycle, and the node does not import the HTTP layer.
// Plain text, no compiler: every `import … from "./x.ts"` / `export … from` line (and `import type`,
// and type-position `import("./x.ts")`) is an edge, resolved relative to its file. Type-only edges
// count too: they are erased at run time, but a type cycle still ties two modules' designs together
// (node.ts ↔ http/app.ts was one), which is what this test guards against.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "..", "..", "src");

/** Relative specifiers of static imports/re-exports (multi-line too) and of `import("…")` types. */
const STATIC_IMPORT = /^\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm;
const IMPORT_CALL = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** File → the src files it imports (only .ts specifiers: assets such as .lua or .css are leaves). */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, "utf8");
    const targets = new Set<string>();
    for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, IMPORT_CALL]) {
      for (const match of text.matchAll(pattern)) {
        if (match[1]!.endsWith(".ts")) targets.add(resolve(dirname(file), match[1]!));
      }
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the files along it (first file repeated at the end). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (file: string) => {
    path.push(file);
    onPath.add(file);
    for (const next of graph.get(file) ?? []) {
      if (onPath.has(next)) cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!done.has(next) && graph.has(next)) visit(next);
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) if (!done.has(file)) visit(file);
  return cycles;
}

const name = (file: string) => relative(SRC, file);

test("no import cycle among src/**/*.ts", () => {
  const graph = importGraph(SRC);
  // The parser found the graph at all: a regex that matched nothing would pass vacuously.
  expect(graph.size).toBeGreaterThan(50);
  expect(graph.get(join(SRC, "node", "node.ts"))).toContain(join(SRC, "store", "store.ts"));
  expect(findCycles(graph).map((cycle) => cycle.map(name).join(" → "))).toEqual([]);
});

test("the node does not import the HTTP layer (serve-node.ts joins them)", () => {
  const graph = importGraph(SRC);
  const fromNode = (graph.get(join(SRC, "node", "node.ts")) ?? []).map(name).filter((target) => target.startsWith("http/"));
  expect(fromNode).toEqual([]);
});

test("the cycle finder names a cycle when there is one", () => {
  const graph = new Map([
    ["/a.ts", ["/b.ts"]],
    ["/b.ts", ["/c.ts"]],
    ["/c.ts", ["/a.ts"]],
    ["/d.ts", ["/a.ts"]],
  ]);
  expect(findCycles(graph)).toEqual([["/a.ts", "/b.ts", "/c.ts", "/a.ts"]]);
});
