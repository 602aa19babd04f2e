// BENCHMARKS.md's generated blocks: a case replaces only the text between its own markers.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withMarkedBlock, writeMarkedBlock } from "../../scripts/bench/marked-block.ts";

test("a block is replaced in place, the prose around it and other blocks untouched", () => {
  const page = "# B\n\nprose\n<!-- bench:a:begin -->\nold a\n<!-- bench:a:end -->\nmiddle\n<!-- bench:b:begin -->\nold b\n<!-- bench:b:end -->\nend\n";
  expect(withMarkedBlock(page, "a", "new a")).toBe(page.replace("old a", "new a"));
  expect(withMarkedBlock(page, "b", "new\nb")).toBe(page.replace("old b", "new\nb"));
});

test("a page without the block gets it appended under its heading", () => {
  expect(withMarkedBlock("# B\n", "c", "table", "## C")).toBe("# B\n\n## C\n\n<!-- bench:c:begin -->\ntable\n<!-- bench:c:end -->\n");
  expect(withMarkedBlock("# B\n", "c", "table")).toBe("# B\n\n<!-- bench:c:begin -->\ntable\n<!-- bench:c:end -->\n");
});

test("writeMarkedBlock rewrites the file it is given", () => {
  const dir = mkdtempSync(join(tmpdir(), "marked-"));
  try {
    const path = join(dir, "BENCHMARKS.md");
    writeFileSync(path, "x\n<!-- bench:s:begin -->\n1\n<!-- bench:s:end -->\ny\n");
    expect(writeMarkedBlock("s", "2", "## S", path)).toBe(path);
    expect(readFileSync(path, "utf8")).toBe("x\n<!-- bench:s:begin -->\n2\n<!-- bench:s:end -->\ny\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
