/**
 * BENCHMARKS.md's generated blocks: each case that records itself (the full run's results,
 * schedules, scale-out) owns the text between `<!-- bench:<name>:begin -->` and
 * `<!-- bench:<name>:end -->`, and replaces only that; the prose around it is written by hand.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const BENCHMARKS_PATH = join(import.meta.dir, "..", "..", "BENCHMARKS.md");

/** `page` with block `name` holding `content`; a page without the block gets it appended under `heading` (none: bare). */
export function withMarkedBlock(page: string, name: string, content: string, heading?: string): string {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${begin}\n${content}\n${end}`;
  const from = page.indexOf(begin);
  const to = page.indexOf(end);
  if (from >= 0 && to > from) return page.slice(0, from) + block + page.slice(to + end.length);
  return `${page}\n${heading ? `${heading}\n\n` : ""}${block}\n`;
}

/** Writes block `name` of BENCHMARKS.md (the file is created if missing); returns the path. */
export function writeMarkedBlock(name: string, content: string, heading?: string, path = BENCHMARKS_PATH): string {
  const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  writeFileSync(path, withMarkedBlock(current, name, content, heading));
  return path;
}
