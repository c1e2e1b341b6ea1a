/**
 * `--pyro5-ns host:port` on `ns list`, `ns lookup`, `call` and `info`: the CLI (from dist/, build
 * first) against a real Python Pyro5 nameserver and daemon, child processes on loopback. Needs
 * python3 and dpkg-deb: elsewhere it says why and skips, except under CI, where it must run.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "./host-processes.js";
import { mustRunPyro5, pyro5Unavailable, startPython, startPythonNameServer } from "./pyro5-python.js";

const run = promisify(execFile);
const unavailable = pyro5Unavailable();

if (unavailable && mustRunPyro5) {
  it("runs against the real Pyro5 under CI", () => {
    throw new Error(`CI is set, so the Pyro5 CLI tests must run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)(`pyro-ts CLI with --pyro5-ns${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ns: Awaited<ReturnType<typeof startPythonNameServer>>;
  let daemon: Awaited<ReturnType<typeof startPython>>;
  let address: string;

  beforeAll(async () => {
    ns = await startPythonNameServer();
    daemon = await startPython("lab_daemon.py", [ns.host, String(ns.port), "cli"]);
    address = `${ns.host}:${ns.port}`;
  }, 30_000);

  afterAll(async () => {
    await daemon?.stop();
    await ns?.stop();
  });

  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args, "--pyro5-ns", address], { timeout: 15_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
    }
  };

  it("ns list and ns lookup read the Python nameserver", async () => {
    const list = await cli("ns", "list", "cli.", "--json");
    expect(JSON.parse(list.stdout)).toEqual({ "cli.stage": { uri: daemon.ready, metadata: ["kind:stage", "lab"] } });
    expect((await cli("ns", "list", "cli.")).stdout).toContain(`cli.stage  ${daemon.ready}  [kind:stage, lab]`);
    expect((await cli("ns", "lookup", "cli.stage")).stdout.trim()).toBe(daemon.ready);
    const missing = await cli("ns", "lookup", "cli.nothing");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/unknown name: cli.nothing/);
  });

  it("call runs methods, reads attributes, streams generators and reports Python exceptions", async () => {
    expect((await cli("call", "cli.stage", "add", "2", "3")).stdout.trim()).toBe("5");
    expect((await cli("call", "cli.stage", "move_to", "4.5")).stdout.trim()).toBe("4.5");
    expect((await cli("call", "cli.stage", "position")).stdout.trim()).toBe("4.5");
    expect(JSON.parse((await cli("call", daemon.ready, "echo", '{"a":[1,2]}', "--json")).stdout)).toEqual({ a: [1, 2] });
    expect((await cli("call", "cli.stage", "scan", "4")).stdout.trim().split("\n")).toEqual(["0", "1", "4", "9"]);
    const failed = await cli("call", "cli.stage", "home");
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/ValueError/);
    expect(failed.stderr).toMatch(/not homed/);
    const unknown = await cli("call", "cli.stage", "fly");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no method "fly"/);
  });

  it("info shows what the Python object exposes", async () => {
    const info = JSON.parse((await cli("info", "cli.stage", "--json")).stdout) as { uri: string; methods: string[]; attrs: string[]; oneway: string[] };
    expect(info.uri).toBe(daemon.ready);
    expect(info.methods).toContain("move_to");
    expect(info.attrs).toEqual(["position", "speed"]);
    expect(info.oneway).toEqual(["remember"]);
  });
});
