/**
 * Issue 12: nameservers sharing one namespace on etcd, as separate processes (the CLI) on a
 * real etcd (test/etcd/etcd-server.ts). Registered through one, answered and signalled by
 * the other; `safe` registrations racing on both: one wins; a SIGKILLed nameserver's names
 * go everywhere when its lease expires; etcd down: lookups answer from the view, marked
 * stale, registrations fail at once with a typed error, and all resumes with etcd.
 *
 * Needs the `etcd` binary: elsewhere it says how to install it and skips, except under CI.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { EtcdUnavailableError, locateNs, NamingError, type NameServer, type Remote } from "../src/index.js";
import { etcdAvailable, etcdHarness, INSTALL_HINT, type EtcdMember } from "./etcd/etcd-server.js";
import { freePort, pollFor } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const CLI = fileURLToPath(new URL("../dist/cli/pyro-ts.js", import.meta.url));
const mustRun = Boolean(process.env.CI);
const available = etcdAvailable();
if (!available && !mustRun) console.warn(`etcd-nameservers.test.ts skipped: ${INSTALL_HINT}`);

/** Lease TTL of the nameservers here: etcd's minimum, so a dead one's names go within seconds. */
const TTL = 2;

describe.skipIf(!available && !mustRun)("nameservers sharing one namespace on etcd", () => {
  const etcd = etcdHarness();
  const children: NodeChild[] = [];
  const proxies: Remote<NameServer>[] = [];
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.$close().catch(() => {});
    for (const child of children.splice(0)) await child.kill().catch(() => {});
  });

  async function etcdMember(): Promise<EtcdMember> {
    if (!available) throw new Error(`CI is set, so this must run: ${INSTALL_HINT}`);
    return etcd.single();
  }

  /** A nameserver process on the prefix; resolves with its port once it serves. */
  async function nameserver(member: EtcdMember, prefix = "/labs/test"): Promise<{ child: NodeChild; port: number }> {
    const port = await freePort();
    const child = new NodeChild(`nameserver ${port}`, CLI, ["nameserver", "-p", String(port), "--no-broadcast", "--storage", `etcd://${member.endpoint}${prefix}?ttl=${TTL}`]);
    children.push(child);
    await child.waitForLine((line) => line.startsWith("nameserver running"), 15_000, "nameserver running");
    return { child, port };
  }

  async function proxy(port: number): Promise<Remote<NameServer>> {
    const ns = await locateNs({ ns: `127.0.0.1:${port}`, broadcast: false, timeout: 5000 });
    proxies.push(ns);
    return ns;
  }

  it("a name registered through one is looked up, listed and signalled through the other", async () => {
    const member = await etcdMember();
    const [a, b] = [await nameserver(member), await nameserver(member)];
    const [nsA, nsB] = [await proxy(a.port), await proxy(b.port)];
    const seen: string[] = [];
    await nsB.registered.connect((name, uri) => {
      seen.push(`${name} ${uri}`);
    });
    expect(await nsA.register("lab.laser", "PYRO:laser@127.0.0.1:4711", { metadata: ["laser"] })).toBe("lab.laser");
    await pollFor("the registered signal on B", 5000, async () => (seen.length > 0 ? true : undefined));
    expect(seen).toEqual(["lab.laser PYRO:laser@127.0.0.1:4711"]);
    expect(await nsB.lookup("lab.laser")).toBe("PYRO:laser@127.0.0.1:4711");
    expect(await nsB.list({ metadataAll: ["laser"] })).toEqual({ "lab.laser": "PYRO:laser@127.0.0.1:4711" });
    // Each nameserver keeps its own entry: its own URI, never shared.
    expect(await nsB.lookup("pyro-ts.NameServer")).toContain(`:${b.port}`);
    expect(await nsA.lookup("pyro-ts.NameServer")).toContain(`:${a.port}`);
  });

  it("safe registrations racing through both nameservers: exactly one wins", async () => {
    const member = await etcdMember();
    const [a, b] = [await nameserver(member), await nameserver(member)];
    const [nsA, nsB] = [await proxy(a.port), await proxy(b.port)];
    for (let round = 0; round < 5; round++) {
      const name = `lab.race${round}`;
      const outcomes = await Promise.allSettled([
        nsA.register(name, "PYRO:a@127.0.0.1:1000", { safe: true }),
        nsB.register(name, "PYRO:b@127.0.0.1:2000", { safe: true }),
      ]);
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
      const lost = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(NamingError);
      const winner = outcomes[0]!.status === "fulfilled" ? "PYRO:a@127.0.0.1:1000" : "PYRO:b@127.0.0.1:2000";
      await pollFor("both agree", 5000, async () => ((await nsA.lookup(name)) === winner && (await nsB.lookup(name)) === winner ? true : undefined));
    }
  });

  it("a SIGKILLed nameserver's names are removed everywhere within its TTL + 2 s", async () => {
    const member = await etcdMember();
    const [a, b] = [await nameserver(member), await nameserver(member)];
    const [nsA, nsB] = [await proxy(a.port), await proxy(b.port)];
    await nsA.register("lab.a1", "PYRO:a1@127.0.0.1:1001");
    await nsA.register("lab.a2", "PYRO:a2@127.0.0.1:1002");
    await nsB.register("lab.b1", "PYRO:b1@127.0.0.1:2001");
    const removed: string[] = [];
    await nsB.removed.connect((name) => {
      removed.push(name);
    });
    await pollFor("B sees A's names", 5000, async () => (Object.keys(await nsB.list({ prefix: "lab." })).length === 3 ? true : undefined));
    const killedAt = Date.now();
    await a.child.kill("SIGKILL");
    await pollFor("A's names gone from B", (TTL + 2) * 1000, async () => (Object.keys(await nsB.list({ prefix: "lab." })).length === 1 ? true : undefined));
    console.log(`A's names gone from B ${Date.now() - killedAt} ms after SIGKILL (TTL ${TTL} s)`);
    expect(Object.keys(await nsB.list({ prefix: "lab." }))).toEqual(["lab.b1"]);
    await pollFor("removed signals", 2000, async () => (removed.length === 2 ? true : undefined));
    expect(removed.sort()).toEqual(["lab.a1", "lab.a2"]);
  });

  it("etcd down: lookups answer from the view, stale; registrations fail fast and typed; all resumes when it is back", async () => {
    const member = await etcdMember();
    const b = await nameserver(member);
    const nsB = await proxy(b.port);
    await nsB.register("lab.kept", "PYRO:kept@127.0.0.1:3001");
    expect(await nsB.stale).toBe(false);
    await member.kill("SIGKILL");
    await pollFor("stale", 10_000, async () => ((await nsB.stale) ? true : undefined));
    expect(await nsB.lookup("lab.kept")).toBe("PYRO:kept@127.0.0.1:3001");
    const started = Date.now();
    const failed = await nsB.register("lab.new", "PYRO:new@127.0.0.1:3002").catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(EtcdUnavailableError);
    expect(Date.now() - started).toBeLessThan(5000);

    await member.restart();
    await pollFor("fresh again", 15_000, async () => ((await nsB.stale) ? undefined : true));
    expect(await nsB.register("lab.new", "PYRO:new@127.0.0.1:3002")).toBe("lab.new");
    expect(await nsB.lookup("lab.kept")).toBe("PYRO:kept@127.0.0.1:3001");
  });

  it("federation and etcd storage together are refused with a clear message", async () => {
    const member = await etcdMember();
    const port = await freePort();
    const child = new NodeChild("nameserver", CLI, ["nameserver", "-p", String(port), "--no-broadcast", "--federate", "lab", "--storage", `etcd://${member.endpoint}/labs/x`]);
    children.push(child);
    const exit = await child.expectExit(15_000);
    expect(exit.code).not.toBe(0);
    expect(child.stderr).toMatch(/federation and etcd storage do not combine/);
  });
});
