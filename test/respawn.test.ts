/**
 * Issue 11, part 2: the processes of a host that keep names watch its nameserver, and when
 * it dies the lowest live rank respawns it (within 2 s) and every process registers its
 * names again (within 3 s). Real processes: the programs and the detached nameservers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { connect, locateNs } from "../src/index.js";
import type { NameServerHost } from "../src/naming/host/nameserver-host.js";
import type { RankHolder } from "../src/naming/host/rank-table.js";
import { fixture, freePort, pollFor, RunDir } from "./host-processes.js";
import type { NodeChild } from "./node-child.js";

const PROGRAM = fixture("named-program");

let run: RunDir;
let port: number;

beforeEach(async () => {
  run = new RunDir();
  port = await freePort();
});

// The programs first (a live one would respawn the nameserver), then every detached nameserver.
afterEach(() => run.cleanup());

function nameserverPid(): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(run.path, `nameserver-${port}.pid`), "utf8")) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

function logLines(): string[] {
  try {
    return readFileSync(join(run.path, `nameserver-${port}.log`), "utf8").split("\n");
  } catch {
    return [];
  }
}

/** The parent of a process, from /proc: who spawned a detached nameserver. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

async function startProgram(name: string): Promise<NodeChild> {
  const program = run.spawn(name, PROGRAM, [`127.0.0.1:${port}`, name, "autostart"]);
  await program.waitForLine((line) => line.startsWith(`serving ${name}`), 15_000, "serving");
  return program;
}

async function holders(): Promise<RankHolder[]> {
  const host = await connect<NameServerHost>(`PYRO:pyro-ts.NameServerHost@127.0.0.1:${port}`, { timeout: 1000 });
  try {
    return (await host.holders()) as RankHolder[];
  } finally {
    await host.$close();
  }
}

async function names(): Promise<string[]> {
  const ns = await locateNs({ ns: `127.0.0.1:${port}`, broadcast: false, locateTimeout: 300, timeout: 1000 });
  try {
    return Object.keys(await ns.list({ prefix: "lab." })).sort();
  } finally {
    await ns.$close();
  }
}

describe("a host's nameserver, kept alive by the processes that use it", () => {
  test("ranks follow the order of joining and pass on when a holder dies", async () => {
    const [p1, p2, p3] = [await startProgram("lab.one"), await startProgram("lab.two"), await startProgram("lab.three")];
    const pids = [p1, p2, p3].map((p) => p.process.pid!);
    expect((await holders()).map((h) => h.pid)).toEqual(pids);
    await p1.kill();
    const after = await pollFor("the dead holder dropped", 3000, async () => {
      const now = await holders();
      return now.length === 2 ? now : undefined;
    });
    expect(after.map((h) => h.pid)).toEqual(pids.slice(1));
    expect(after[0]!.rank).toBeLessThan(after[1]!.rank);
  });

  test("SIGKILL of the nameserver: the lowest live rank respawns it within 2 s, every name is back within 3 s", async () => {
    const p1 = await startProgram("lab.one");
    const p2 = await startProgram("lab.two");
    const p3 = await startProgram("lab.three");
    const first = nameserverPid()!;
    expect(first).toBeGreaterThan(0);
    // The first holder dies: the duty passes to the second.
    await p1.kill();
    await pollFor("the first holder dropped", 3000, async () => ((await holders()).length === 2 ? true : undefined));
    const logBefore = logLines().length;

    const killedAt = Date.now();
    process.kill(first, "SIGKILL");
    const respawned = await pollFor("a new nameserver", 5000, async () => {
      const pid = nameserverPid();
      if (pid === undefined || pid === first) return undefined;
      await names();
      return pid;
    });
    const back = Date.now() - killedAt;
    const allNames = await pollFor("both names again", 5000, async () => {
      const listed = await names();
      return listed.length === 2 ? listed : undefined;
    });
    const namesBack = Date.now() - killedAt;
    console.log(`nameserver back after ${back} ms, names after ${namesBack} ms`);
    expect(allNames).toEqual(["lab.three", "lab.two"]);
    expect(back).toBeLessThan(2000);
    expect(namesBack).toBeLessThan(3000);
    // Started by the lowest live rank, and by no one else: one start in the log, no lost race.
    expect(parentOf(respawned)).toBe(p2.process.pid);
    const started = logLines().slice(logBefore);
    expect(started.filter((line) => line.includes("nameserver running at"))).toHaveLength(1);
    expect(started.join("\n")).not.toMatch(/in use|already/i);
    expect(p2.running && p3.running).toBe(true);
  });

  test("a nameserver stopped on purpose (ns stop) is not respawned: the programs wait for one", async () => {
    const p1 = await startProgram("lab.one");
    await startProgram("lab.two");
    const first = nameserverPid()!;
    const stop = await run.cli(["ns", "stop", "-p", String(port)]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`stopped nameserver (pid ${first})`);
    // Longer than a respawn takes (a few hundred ms): nothing comes back, no pid file appears.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(nameserverPid()).toBeUndefined();
    await expect(names()).rejects.toThrow(/no nameserver answers/);
    expect(p1.running).toBe(true);
  });

  test("with file storage, a name no program re-registers is back with the respawned nameserver", async () => {
    const detach = await run.cli(["nameserver", "--detach", "-p", String(port), "--no-broadcast", "--storage", `file:${join(run.path, "names.journal")}`]);
    expect(detach.code, detach.stderr).toBe(0);
    const first = nameserverPid()!;
    const register = await run.cli(["ns", "register", "lab.kept", "PYRO:laser@127.0.0.1:4711", "--ns", `127.0.0.1:${port}`]);
    expect(register.code, register.stderr).toBe(0);
    // A program on the host holds a rank, so someone respawns the nameserver.
    const program = run.spawn("lab.one", PROGRAM, [`127.0.0.1:${port}`, "lab.one"]);
    await program.waitForLine((line) => line.startsWith("serving lab.one"), 15_000, "serving");

    process.kill(first, "SIGKILL");
    const listed = await pollFor("the kept name back", 5000, async () => {
      const now = await names();
      return now.includes("lab.kept") ? now : undefined;
    });
    expect(nameserverPid()).not.toBe(first);
    expect(listed).toContain("lab.kept");
  });

  test("a program that closes gives its rank up at once", async () => {
    const p1 = await startProgram("lab.one");
    const p2 = await startProgram("lab.two");
    p1.signal("SIGTERM");
    await p1.expectExit(5000);
    const left = await holders();
    expect(left.map((h) => h.pid)).toEqual([p2.process.pid]);
  });
});
