/**
 * `pyro-ts nameserver --federate lab --detach` and `pyro-ts ns stop` on two real (simulated)
 * hosts: network namespaces on one bridge (test/netns/lab-network.ts), each with a run
 * directory of its own as a machine has. The detached nameservers outlive the command that
 * started them, find each other, and one stopped by `ns stop` is seen to leave.
 *
 * Needs root and iproute2: elsewhere it says why and skips, except under CI (CI set),
 * where it must run and a missing prerequisite fails it. Build first (dist/cli).
 */
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { processAlive } from "../src/naming/host/process-alive.js";
import { allAlive, Federation, NS_PORT, selfRow, seenAs } from "./netns/federation.js";
import { CLI, LabNetwork, netnsAvailable } from "./netns/lab-network.js";
import { pollUntil } from "./netns/poll.js";

const mustRun = Boolean(process.env.CI);
const unavailable = netnsAvailable();
const skip = unavailable !== undefined && !mustRun;
if (skip) console.warn(`federation-hosts-detach.test.ts skipped: network namespaces cannot be made here: ${unavailable}`);

const HOSTS = ["h1", "h2"] as const;
const RUNNING = /^nameserver running at (PYRO:pyro-ts\.NameServer@(\S+)) \(pid (\d+)\), log (\S+)$/m;

describe.skipIf(skip)("detached federated nameservers on two hosts (network namespaces)", () => {
  let lab: LabNetwork | undefined;

  afterEach(async () => {
    // Removing a namespace kills what still runs in it: the detached nameservers too.
    await lab?.destroy();
    lab = undefined;
  });

  it("--federate lab --detach returns at once, the nameservers find each other, and ns stop makes one leave", async () => {
    if (unavailable) throw new Error(`CI is set, so this must run, but network namespaces cannot be made: ${unavailable}`);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
    lab = await LabNetwork.create({ hosts: [0, 0] });
    const federation = new Federation(lab);
    const pids = new Map<string, number>();
    for (const host of HOSTS) {
      const address = lab.host(host).address;
      const started = await lab.execCli(host, ["nameserver", "-n", address, "--federate", "lab", "--detach"], 15_000);
      expect(started.code, started.stderr).toBe(0);
      const match = RUNNING.exec(started.stdout);
      expect(match, started.stdout).not.toBeNull();
      expect(match![2]).toBe(`${address}:${NS_PORT}`);
      pids.set(host, Number(match![3]));
    }
    // The commands have ended; the nameservers run on, and federate.
    const tables = await pollUntil("h1 and h2 alive in each other's table", 15_000, async () => {
      const read = await federation.tables(HOSTS);
      return typeof read === "string" ? { waiting: read } : allAlive(lab!, read);
    });
    const h1 = tables.get("h1")!;

    const stopped = await lab.execCli("h1", ["ns", "stop"], 15_000);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`stopped nameserver (pid ${pids.get("h1")})`);
    expect(processAlive(pids.get("h1")!)).toBe(false);
    await pollUntil("h2 sees h1 leave", 10_000, async () => {
      const rows = await federation.peers("h2");
      return typeof rows === "string" ? { waiting: rows } : seenAs(new Map([["h2", rows]]), "h1", h1.id, "left");
    });
    // h2's nameserver, with a pid file of its own, was left alone.
    const own = await federation.peers("h2");
    expect(typeof own === "string" ? own : selfRow(lab, "h2", own)).toMatchObject({ state: "alive" });
    expect(processAlive(pids.get("h2")!)).toBe(true);
  });
});
