// HTTPS to a name: the sender connects to the address it checked, and the certificate is still
// verified against the URL's name (TLS server name), not the address. A certificate for another
// name is refused. Certificates are made with openssl for this test; the child process trusts the
// test CA through NODE_EXTRA_CA_CERTS.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let dir: string;

function openssl(args: string[]): void {
  const run = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr.toString()}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tickwheel-tls-"));
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=tickwheel test CA"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=hooks.test"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:hooks.test\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("https://name is sent to the checked address with the certificate verified for the name", () => {
  const run = Bun.spawnSync(["bun", join(import.meta.dir, "fixtures", "tls-probe.ts")], {
    env: { ...process.env, TLS_DIR: dir, NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(run.stderr.toString()).toBe("");
  const result = JSON.parse(run.stdout.toString());
  expect(result.good).toEqual({ kind: "delivered", result: { ok: true } });
  expect(result.goodHost).toBe(`hooks.test:${result.port}`);
  // Same address, but the name in the URL is not the certificate's: refused (and retried, as a
  // certificate being renewed would be).
  expect(result.wrongName.kind).toBe("retry");
  expect(result.wrongName.error).toMatch(/CERT|certificate/i);
}, 30_000);
