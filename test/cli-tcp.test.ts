/**
 * The CLI over the TCP transport: `pyro-ts nameserver --transport tcp`, and client commands
 * that reach it with `--ns-transport tcp` (or PYRO_TS_NS_TRANSPORT). Real child processes from
 * dist/ (build first), loopback only.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const children: NodeChild[] = [];
afterEach(async () => {
  for (const child of children.splice(0).reverse()) await child.kill("SIGKILL").catch(() => {});
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): NodeChild {
  const clean: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete clean.PYRO_TS_NS;
  delete clean.PYRO_TS_CONFIG;
  if (!("PYRO_TS_NS_TRANSPORT" in env)) delete clean.PYRO_TS_NS_TRANSPORT;
  const child = new NodeChild(args.join(" "), CLI, args, { cwd: mkdtempSync(join(tmpdir(), "pyro-ts-cli-tcp-")), env: clean });
  children.push(child);
  return child;
}

describe("the CLI over the TCP transport", () => {
  it("serves the nameserver over TCP; clients reach it with --ns-transport tcp or PYRO_TS_NS_TRANSPORT, and not without", async () => {
    const nameserver = run(["nameserver", "--transport", "tcp", "--port", "0", "--no-broadcast"]);
    const running = await nameserver.waitForLine((line) => line.startsWith("nameserver running at "), 8000, "the nameserver's URI");
    expect(running).toMatch(/\?transport=tcp$/);
    const ns = `127.0.0.1:${/:(\d+)\?/.exec(running)![1]}`;

    const register = run(["ns", "register", "lab.laser", "PYRO:laser@127.0.0.1:4711", "--ns", ns, "--ns-transport", "tcp"]);
    expect((await register.expectExit(10_000)).code).toBe(0);
    const list = run(["ns", "list", "--json", "--ns", ns], { PYRO_TS_NS_TRANSPORT: "tcp" });
    expect((await list.expectExit(10_000)).code).toBe(0);
    expect(list.lines.join("\n")).toContain("PYRO:laser@127.0.0.1:4711");

    // Spoken to over ZeroMQ, the TCP nameserver does not answer.
    const wrong = run(["ns", "list", "--ns", ns]);
    expect((await wrong.expectExit(15_000)).code).not.toBe(0);
  }, 40_000);
});

describe("the CLI over TLS", () => {
  it("keygen, a TLS nameserver admitting one client, and that client reaching it by fingerprint; another is refused", async () => {
    const keys = mkdtempSync(join(tmpdir(), "pyro-ts-cli-tls-"));
    for (const name of ["ns", "alice", "mallory"]) expect((await run(["keygen", "--out", join(keys, name)]).expectExit(15_000)).code).toBe(0);
    mkdirSync(join(keys, "clients"));
    copyFileSync(join(keys, "alice.pub"), join(keys, "clients", "alice.pub"));
    const nameserver = run(["nameserver", "--transport", "tcp", "--port", "0", "--no-broadcast", "--curve-secret", join(keys, "ns.key"), "--authorized-clients", join(keys, "clients")]);
    const running = await nameserver.waitForLine((line) => line.startsWith("nameserver running at "), 8000, "the nameserver's URI");
    expect(running).toMatch(/\?transport=tcp&tls=sha256:/);
    const ns = `127.0.0.1:${/:(\d+)\?/.exec(running)![1]}`;
    const client = (name: string): string[] => ["--ns", ns, "--ns-transport", "tcp", "--ns-key", join(keys, "ns.pub"), "--curve-secret", join(keys, `${name}.key`)];
    const register = run(["ns", "register", "lab.stage", "PYRO:stage@127.0.0.1:4711", ...client("alice")]);
    expect((await register.expectExit(10_000)).code).toBe(0);
    const refused = run(["ns", "list", ...client("mallory")]);
    expect((await refused.expectExit(10_000)).code).not.toBe(0);
    expect(refused.stderr).toMatch(/SecurityError|refused/);
  }, 60_000);
});
