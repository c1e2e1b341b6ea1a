/**
 * An active/standby pair of federated nameservers on two real (simulated) hosts: network
 * namespaces on two subnets (test/netns/lab-network.ts), so no beacon crosses and the pair
 * link alone joins them; h1 runs `pyro-ts nameserver --federate lab --pair <h2>` and h2 the
 * same towards h1. Names are registered on one (the CLI, and a daemon keeping its name
 * there), that nameserver is SIGKILLed, the other must answer every lookup all along, then
 * the first is started again and must catch up. Every check is a CLI run on the host it is
 * about; the time each step took is printed.
 *
 * Needs root and iproute2: elsewhere it says why and skips, except under CI (CI set),
 * where it must run and a missing prerequisite fails it. Build first (dist/cli, dist/test).
 */
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeChild } from "./node-child.js";
import { allAlive, Federation } from "./netns/federation.js";
import { CLI, LabNetwork, netnsAvailable } from "./netns/lab-network.js";
import { HOST_LASER, listConflicts, listNames, listsOf, lookupName, nsOf, registerName, spawnScript } from "./netns/lab-names.js";
import { notExactly, removeName, startPaired, StepLog } from "./netns/lab-pair.js";
import type { PeerRow } from "./netns/peer-table.js";
import { pollUntil, type Outcome } from "./netns/poll.js";

const mustRun = Boolean(process.env.CI);
const unavailable = netnsAvailable();
const skip = unavailable !== undefined && !mustRun;
if (skip) console.warn(`federation-hosts-pair.test.ts skipped: network namespaces cannot be made here: ${unavailable}`);

const HOSTS = ["h1", "h2"] as const;
/** What the fixture prints once it serves and its name is registered. */
const SERVING = /^serving (\S+) at (PYRO:\S+)$/;

describe.skipIf(skip)("an active/standby pair of nameservers on two hosts (network namespaces)", () => {
  let lab: LabNetwork | undefined;
  const children: NodeChild[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill("SIGKILL").catch(() => {});
    await lab?.destroy();
    lab = undefined;
  });

  /** h1 and h2 on two subnets, their nameservers paired with each other; resolves once each lists the other alive. */
  async function pairOfHosts(storage: Readonly<Record<string, string>>): Promise<Federation> {
    // Checked in each test rather than in a hook, so that under CI each one fails (a failed hook only skips them).
    if (unavailable) throw new Error(`CI is set, so this must run, but network namespaces cannot be made: ${unavailable}`);
    for (const file of [CLI, HOST_LASER]) if (!existsSync(file)) throw new Error(`${file} is missing: build first (npx tsc -p tsconfig.json)`);
    lab = await LabNetwork.create({ hosts: [0, 1] });
    const federation = new Federation(lab);
    const [a, b] = HOSTS;
    await Promise.all([startPaired(federation, a, b, storage[a]), startPaired(federation, b, a, storage[b])]);
    await pollUntil("h1 and h2 alive in each other's table", 15_000, async () => {
      const tables = await federation.tables(HOSTS);
      return typeof tables === "string" ? { waiting: tables } : allAlive(federation.lab, tables);
    });
    return federation;
  }

  /** `host`'s own row in its table. */
  async function ownRow(federation: Federation, host: string): Promise<PeerRow> {
    const rows = await federation.peers(host);
    if (typeof rows === "string") throw new Error(rows);
    return rows.find((r) => r.self)!;
  }

  /**
   * Registers names on `failing` (acknowledged: the survivor answers each at once), SIGKILLs
   * its nameserver (the survivor answers every one at every probe, before and after it holds
   * it dead), changes them on the survivor, restarts `failing` with `storage` and waits
   * until both list the same names, `failing`'s own back with it. Logs each step's time.
   */
  async function failover(federation: Federation, failing: string, survivor: string, storage: string): Promise<void> {
    const on = federation.lab;
    const log = new StepLog(`pair failover: ${failing} (${storage}) SIGKILLed, ${survivor} answering`);
    const at = (host: string, object: string): string => `PYRO:${object}@${on.host(host).address}:1234`;
    const names = new Map<string, string>();

    for (const object of ["one", "two", "doomed"]) {
      const name = `pair.${object}`;
      log.start();
      await registerName(on, failing, name, at(failing, object));
      log.note(`ns register ${name} on ${failing}, acknowledged (one CLI run)`);
      // Acknowledged means held by the partner: no polling.
      expect(await lookupName(on, survivor, name), `${name} on ${survivor} right after ${failing} acknowledged it`).toEqual({ uri: at(failing, object) });
      names.set(name, at(failing, object));
    }
    // A daemon on the failing host, keeping its name in that host's nameserver (and only there).
    log.start();
    const daemon = spawnScript(on, failing, HOST_LASER, [on.host(failing).address, nsOf(on, failing), "lab.laser"]);
    children.push(daemon);
    const laser = SERVING.exec(await daemon.waitForLine((l) => SERVING.test(l), 15_000, `lab.laser served on ${failing}`))![2]!;
    log.note(`a daemon on ${failing} serving lab.laser, registered (process start included)`);
    expect(await lookupName(on, survivor, "lab.laser"), `lab.laser on ${survivor} once the daemon serves`).toEqual({ uri: laser });
    names.set("lab.laser", laser);

    const failed = await ownRow(federation, failing);
    const survivorRow = await ownRow(federation, survivor);
    log.start();
    await federation.nameserver(failing).kill("SIGKILL");
    let suspect: number | undefined;
    let dead: number | undefined;
    let probes = 0;
    await pollUntil(`${survivor} answers every name of ${failing} until 2 s after it holds it dead`, 20_000, async (): Promise<Outcome<true>> => {
      const [list, rows] = await Promise.all([listNames(on, survivor), federation.peers(survivor)]);
      probes++;
      // Every probe must answer, and answer everything: no gap between suspicion and death.
      if (typeof list === "string") throw new Error(`probe ${probes}, ${log.elapsed()} ms after the kill: ${list}`);
      const wrong = notExactly(survivor, list, names);
      if (wrong) throw new Error(`probe ${probes}, ${log.elapsed()} ms after the kill: ${wrong}`);
      if (typeof rows === "string") return { waiting: rows };
      const state = rows.find((r) => r.id === failed.id)?.state;
      if (state === "suspect") suspect ??= log.elapsed();
      if (state === "dead") dead ??= log.elapsed();
      if (dead === undefined || log.elapsed() < dead + 2000) return { waiting: `${survivor} holds ${failing} ${state}` };
      // Taken over: the survivor owns them now.
      const foreign = [...list].filter(([, entry]) => entry.origin !== survivorRow.id).map(([name]) => name);
      return foreign.length === 0 ? { done: true } : { waiting: `${survivor} lists ${foreign.join(", ")} with another origin` };
    });
    if (suspect !== undefined) log.note(`${survivor} first seen holding ${failing} suspect`, suspect);
    log.note(`${survivor} first seen holding ${failing} dead (${probes} probes, every name answered at each)`, dead);

    // The survivor answers for the daemon's name, and owns the names: it can change them.
    const call = await on.execCli(survivor, ["call", "lab.laser", "setPower", "5", "--ns", nsOf(on, survivor)]);
    expect(call, call.stderr).toMatchObject({ code: 0 });
    expect(call.stdout.trim()).toBe("5");
    await removeName(on, survivor, "pair.doomed");
    names.delete("pair.doomed");
    log.start();
    await registerName(on, survivor, "pair.fromSurvivor", at(survivor, "fromSurvivor"));
    log.note(`ns register on ${survivor} with its partner dead (one CLI run)`);
    names.set("pair.fromSurvivor", at(survivor, "fromSurvivor"));

    log.start();
    await startPaired(federation, failing, survivor, storage);
    log.note(`${failing} restarted, serving`);
    const back = await ownRow(federation, failing);
    if (storage !== "memory") expect(back.id, "the same id with file storage").toBe(failed.id);
    await pollUntil(`${failing} catches up: both list the same names, ${failing}'s own back with it`, 20_000, async (): Promise<Outcome<true>> => {
      const lists = await listsOf(on, [failing, survivor]);
      if (typeof lists === "string") return { waiting: lists };
      // The survivor answers everything all along, and never shows the name it removed again.
      const survivorWrong = notExactly(survivor, lists.get(survivor)!, names);
      if (survivorWrong) throw new Error(`${log.elapsed()} ms after the restart: ${survivorWrong}`);
      for (const [host, list] of lists) {
        const wrong = notExactly(host, list, names);
        if (wrong) return { waiting: wrong };
        for (const [name, entry] of list) {
          const owner = name === "pair.fromSurvivor" ? survivorRow.id : back.id;
          if (entry.origin !== owner) return { waiting: `${host} lists ${name} with origin ${entry.origin}, expected ${owner}` };
        }
      }
      return { done: true };
    });
    log.note(`${failing} caught up: lists every name, and its own are its own again`);
    for (const host of [failing, survivor]) expect(await listConflicts(on, host), `conflicts on ${host}`).toEqual([]);
    log.print();
  }

  it("the pair: registrations on A are answered by B after A is killed; A comes back (file storage) and catches up", async () => {
    const [a, b] = HOSTS;
    const federation = await pairOfHosts({ [a]: "file:h1-names.journal", [b]: "memory" });
    await failover(federation, a, b, "file:h1-names.journal");
  }, 120_000);

  it("the mirror: registrations on B are answered by A after B is killed; B comes back (memory storage, a new id) and catches up", async () => {
    const [a, b] = HOSTS;
    const federation = await pairOfHosts({ [a]: "memory", [b]: "memory" });
    await failover(federation, b, a, "memory");
  }, 120_000);
});
