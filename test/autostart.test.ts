/**
 * Autostart: a program that needs a nameserver and finds none starts one for its host,
 * detached, which outlives it; two programs starting one at once end up with one.
 *
 * Real processes: the programs are test/fixtures/autostart-laser.ts, the nameservers the
 * compiled CLI. Each test has its own port (never 9090), its own run directory, and kills
 * every detached nameserver it caused, also when it fails. Loopback only, broadcast off.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { locateNs, lookup, NamingError } from "../src/index.js";
import { autostartNameServer, autostartSettings } from "../src/naming/host/autostart.js";
import { startDetachedNameServer } from "../src/naming/host/detached-start.js";
import { NameServerStartError } from "../src/naming/host/host-errors.js";
import { readPidFile } from "../src/naming/host/run-files.js";
import type { Laser } from "./fixtures/laser.js";
import { alive, fixture, freePort, groupOf, RunDir, squat, until } from "./host-processes.js";

const PROGRAM = fixture("autostart-laser");
/** Locating (2 s with nothing there) plus starting node twice, on a busy 2-core machine. */
const READY_MS = 15_000;

let run: RunDir;
let port: number;
let ns: string;
const savedRunDir = process.env.PYRO_TS_RUN_DIR;

beforeEach(async () => {
  run = new RunDir();
  // The run files this process reads (readPidFile) and writes (autostart from here) are the test's.
  process.env.PYRO_TS_RUN_DIR = run.path;
  port = await freePort();
  ns = `127.0.0.1:${port}`;
});

afterEach(async () => {
  if (savedRunDir === undefined) delete process.env.PYRO_TS_RUN_DIR;
  else process.env.PYRO_TS_RUN_DIR = savedRunDir;
  await run.cleanup();
});

/** `READY <name> <uri> <pid>` of a program. */
async function ready(program: ReturnType<RunDir["spawn"]>): Promise<{ uri: string; pid: number }> {
  const line = await program.waitForLine((l) => l.startsWith("READY "), READY_MS, "READY");
  const [, , uri, pid] = line.split(" ");
  return { uri: uri!, pid: Number(pid) };
}

/** The URI a name resolves to, asking the nameserver from this process. */
async function resolveName(name: string): Promise<string> {
  const proxy = await locateNs({ ns, broadcast: false, timeout: 5000 });
  try {
    return (await proxy.lookup(name)) as string;
  } finally {
    await proxy.$close();
  }
}

describe("autostart", () => {
  it("P1 starts a detached nameserver that survives SIGKILL of P1, with P2's name", async () => {
    const p1 = run.spawn("P1", PROGRAM, [ns, "auto.p1"]);
    const first = await ready(p1);
    const pidFile = readPidFile(port);
    expect(pidFile).toBeDefined();
    const nsPid = pidFile!.pid;
    expect(nsPid).not.toBe(first.pid);
    expect(alive(nsPid)).toBe(true);
    // Its own session and process group: nothing sent to P1's group or terminal reaches it.
    expect(groupOf(nsPid)).toEqual(expect.objectContaining({ pgrp: nsPid, session: nsPid }));
    expect(pidFile!.uri).toBe(`PYRO:pyro-ts.NameServer@${ns}`);
    expect(readFileSync(join(run.path, `nameserver-${port}.log`), "utf8")).toContain(`nameserver running at PYRO:pyro-ts.NameServer@${ns}`);

    const p2 = run.spawn("P2", PROGRAM, [ns, "auto.p2"]);
    const second = await ready(p2);
    expect(readPidFile(port)!.pid).toBe(nsPid);

    await p1.kill("SIGKILL");
    // Some time for anything tied to P1 to go with it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(alive(nsPid)).toBe(true);
    expect(run.nameservers()).toEqual([nsPid]);
    expect(await resolveName("auto.p2")).toBe(second.uri);
    const laser = await lookup<Laser>("auto.p2", { ns, broadcast: false, timeout: 5000 });
    try {
      expect(await laser.setPower(7)).toBe(7);
    } finally {
      await laser.$close();
    }
  });

  it("two programs autostarting at once end up with one nameserver and both names", async () => {
    // One asks for autostart in code, the other through PYRO_TS_NS_AUTOSTART=1.
    const a = run.spawn("A", PROGRAM, [ns, "race.a", "option"]);
    const b = run.spawn("B", PROGRAM, [ns, "race.b", "env"], { PYRO_TS_NS_AUTOSTART: "1" });
    const [ra, rb] = await Promise.all([ready(a), ready(b)]);
    const nameservers = run.nameservers();
    expect(nameservers).toHaveLength(1);
    expect(readPidFile(port)!.pid).toBe(nameservers[0]);
    expect(await resolveName("race.a")).toBe(ra.uri);
    expect(await resolveName("race.b")).toBe(rb.uri);
  });

  it("without autostart, a program finds no nameserver and starts none", async () => {
    const program = run.spawn("P", PROGRAM, [ns, "none.p", "env"]);
    const exit = await program.expectExit(READY_MS);
    expect(exit.code).not.toBe(0);
    expect(program.stderr).toContain(`no nameserver answers at ${ns}`);
    expect(run.nameservers()).toEqual([]);
    expect(existsSync(join(run.path, `nameserver-${port}.pid`))).toBe(false);
  });

  it("refuses, with a clear message, to autostart a nameserver on another host", async () => {
    const started: string[] = [];
    const attempt = autostartNameServer(
      {
        candidates: [{ host: "10.11.12.13", port }],
        isLocal: () => false,
        find: async (host) => {
          started.push(host);
          return undefined;
        },
      },
      {},
    );
    await expect(attempt).rejects.toThrow(NamingError);
    await expect(attempt).rejects.toThrow(/cannot autostart a nameserver on another host/);
    expect(started).toEqual([]);
  });

  it("says so when the port is held by a program that is no nameserver", { timeout: 20_000 }, async () => {
    const squatter = await squat(port);
    try {
      const located = locateNs({ ns, broadcast: false, autostart: true, locateTimeout: 500 });
      await expect(located).rejects.toThrow(NamingError);
      await expect(located).rejects.toThrow(`port ${port} is held by another program`);
      expect(run.nameservers()).toEqual([]);
      expect(readFileSync(join(run.path, `nameserver-${port}.log`), "utf8")).toMatch(/Address already in use/);
    } finally {
      await squatter.close();
    }
  });

  it("follows the option first, then PYRO_TS_NS_AUTOSTART", () => {
    const saved = process.env.PYRO_TS_NS_AUTOSTART;
    try {
      process.env.PYRO_TS_NS_AUTOSTART = "1";
      expect(autostartSettings(undefined)).toEqual({});
      expect(autostartSettings(false)).toBeUndefined();
      delete process.env.PYRO_TS_NS_AUTOSTART;
      expect(autostartSettings(undefined)).toBeUndefined();
      expect(autostartSettings(true)).toEqual({});
      expect(autostartSettings({ storage: "memory" })).toEqual({ storage: "memory" });
    } finally {
      if (saved === undefined) delete process.env.PYRO_TS_NS_AUTOSTART;
      else process.env.PYRO_TS_NS_AUTOSTART = saved;
    }
  });
});

describe("startDetachedNameServer", () => {
  it("rejects with the log's last lines when the child exits before it is ready", async () => {
    const logFile = join(run.path, "exits.log");
    const started = startDetachedNameServer({ argv: ["-e", "console.error('cannot start: boom'); process.exit(4)"], logFile });
    await expect(started).rejects.toThrow(NameServerStartError);
    const error = (await started.catch((e: unknown) => e)) as NameServerStartError;
    expect(error.reason).toBe("exited");
    expect(error.message).toMatch(/exited \(code 4\) before it was ready/);
    expect(error.message).toContain("cannot start: boom");
  });

  it("kills a child that never reports ready, with its process group", async () => {
    const logFile = join(run.path, "silent.log");
    const script = "console.log('child-pid ' + process.pid); setInterval(() => {}, 1000)";
    const error = (await startDetachedNameServer({ argv: ["-e", script], logFile, timeoutMs: 1500 }).catch((e: unknown) => e)) as NameServerStartError;
    expect(error).toBeInstanceOf(NameServerStartError);
    expect(error.reason).toBe("timeout");
    const pid = Number(/child-pid (\d+)/.exec(readFileSync(logFile, "utf8"))![1]);
    expect(await until(() => !alive(pid), 3000)).toBe(true);
  });
});
