/**
 * `pyro-ts nameserver --detach`, `pyro-ts ns stop` and `--autostart-ns`, run as the compiled
 * CLI: a nameserver that outlives the command that started it, stopped by its pid file; the
 * messages for a busy port, a stale, reused or corrupt pid file, and no pid file at all.
 *
 * Each test has its own port (never 9090), run directory and working directory (no
 * pyro-ts.yml of the developer's), and kills every detached nameserver it caused.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { alive, freePort, groupOf, RunDir, squat, until } from "./host-processes.js";

let run: RunDir;
let port: number;

beforeEach(async () => {
  run = new RunDir();
  port = await freePort();
});

afterEach(async () => {
  await run.cleanup();
});

const pidFile = (): string => join(run.path, `nameserver-${port}.pid`);
const logFile = (): string => join(run.path, `nameserver-${port}.log`);
const detachArgs = (): string[] => ["nameserver", "--port", String(port), "--no-broadcast", "--detach"];

/** `--detach`, expected to succeed: the pid and URI it printed. */
async function detach(): Promise<{ pid: number; uri: string }> {
  const result = await run.cli(detachArgs());
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const match = /^nameserver running at (PYRO:pyro-ts\.NameServer@127\.0\.0\.1:(\d+)) \(pid (\d+)\), log (.+)$/.exec(result.stdout);
  expect(match, result.stdout).not.toBeNull();
  expect(Number(match![2])).toBe(port);
  expect(match![4]).toBe(logFile());
  return { pid: Number(match![3]), uri: match![1]! };
}

/** A process that is no nameserver, alive until the test ends. */
function otherProgram(): number {
  return run.spawn("other", "-e", ["process.stdin.resume(); process.stdin.on('end', () => process.exit(0))"]).process.pid!;
}

describe("pyro-ts nameserver --detach / ns stop", () => {
  it("--detach starts a nameserver that outlives the command; ns stop ends it and its pid file", async () => {
    const { pid, uri } = await detach();
    expect(alive(pid)).toBe(true);
    expect(groupOf(pid)).toEqual(expect.objectContaining({ pgrp: pid, session: pid }));
    const written = JSON.parse(readFileSync(pidFile(), "utf8")) as { pid: number; uri: string; argv: string[]; logFile: string; started: string };
    expect(written).toEqual(expect.objectContaining({ pid, uri, logFile: logFile() }));
    expect(written.argv).toContain("nameserver");
    expect(Number.isNaN(Date.parse(written.started))).toBe(false);

    const ping = await run.cli(["ns", "ping", "--ns", `127.0.0.1:${port}`]);
    expect(ping.stdout).toBe(`nameserver ${uri} is alive`);
    const registered = await run.cli(["ns", "register", "--ns", `127.0.0.1:${port}`, "lab.thing", "PYRO:thing@127.0.0.1:1"]);
    expect(registered.code).toBe(0);

    const stop = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(stop.stderr).toBe("");
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe(`stopped nameserver (pid ${pid})`);
    expect(alive(pid)).toBe(false);
    expect(existsSync(pidFile())).toBe(false);
    // It stopped cleanly (SIGTERM), not killed.
    expect(readFileSync(logFile(), "utf8")).toContain("nameserver stopped");
  });

  it("--detach on a port where a pyro-ts nameserver runs says which one", async () => {
    const { pid, uri } = await detach();
    const again = await run.cli(detachArgs());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`a pyro-ts nameserver already runs at ${uri} (pid ${pid})`);
    expect(again.stderr).not.toMatch(/^\s+at /m);
    expect(run.nameservers()).toEqual([pid]);
    expect(JSON.parse(readFileSync(pidFile(), "utf8")).pid).toBe(pid);
  });

  it("--detach on a port another program holds says so", async () => {
    const squatter = await squat(port);
    try {
      const result = await run.cli(detachArgs());
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`cannot start a nameserver on 127.0.0.1:${port}: port ${port} is held by another program`);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(run.nameservers()).toEqual([]);
      expect(existsSync(pidFile())).toBe(false);
    } finally {
      await squatter.close();
    }
  });

  it("ns stop with a stale pid file says the nameserver is gone and removes the file", async () => {
    const gone = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    const deadPid = gone.pid!;
    await once(gone, "exit");
    writeFileSync(pidFile(), JSON.stringify({ pid: deadPid, uri: `PYRO:pyro-ts.NameServer@127.0.0.1:${port}`, argv: ["pyro-ts.js", "nameserver"], started: new Date().toISOString() }));
    const result = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the nameserver of port ${port} (pid ${deadPid}) is gone; removed its stale pid file ${pidFile()}`);
    expect(existsSync(pidFile())).toBe(false);
  });

  it("ns stop never signals a reused pid: the process there is no nameserver", async () => {
    const other = otherProgram();
    await until(() => alive(other), 5000);
    writeFileSync(pidFile(), JSON.stringify({ pid: other, uri: `PYRO:pyro-ts.NameServer@127.0.0.1:${port}`, argv: ["pyro-ts.js", "nameserver"], started: new Date().toISOString() }));
    const result = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`(pid ${other}) is gone (the pid now belongs to another program, left alone)`);
    expect(alive(other)).toBe(true);
    expect(existsSync(pidFile())).toBe(false);
  });

  it("ns stop without a pid file, or with a corrupt one, says so", async () => {
    const none = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no nameserver to stop on port ${port}: there is no pid file ${pidFile()}`);

    writeFileSync(pidFile(), "{ not json");
    const corrupt = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`the pid file ${pidFile()} is corrupt`);
    expect(corrupt.stderr).not.toMatch(/^\s+at /m);
  });

  it("ns register --autostart-ns starts a nameserver that keeps the name after the command exits", async () => {
    const ns = `127.0.0.1:${port}`;
    // The nameserver it starts reads this too: no broadcast responder on the shared UDP 9091 during tests.
    const config = join(run.path, "pyro-ts.yml");
    writeFileSync(config, "nameservers:\n  - default:\n      broadcast: false\n");
    const registered = await run.cli(["ns", "register", "--ns", ns, "--autostart-ns", "lab.auto", "PYRO:auto@127.0.0.1:1"], { env: { PYRO_TS_CONFIG: config } });
    expect(registered.stderr).toBe("");
    expect(registered.code).toBe(0);
    expect(registered.stdout).toBe("registered lab.auto");
    const [pid] = run.nameservers();
    expect(pid).toBeDefined();
    expect(readFileSync(logFile(), "utf8")).not.toContain("broadcast responder");
    const lookup = await run.cli(["ns", "lookup", "--ns", ns, "lab.auto"]);
    expect(lookup.stdout).toBe("PYRO:auto@127.0.0.1:1");
    const stop = await run.cli(["ns", "stop", "--port", String(port)]);
    expect(stop.stdout).toBe(`stopped nameserver (pid ${pid})`);
    expect(run.nameservers()).toEqual([]);
  });
});
