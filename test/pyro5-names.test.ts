/**
 * A pyro-ts daemon's objects named in a Python Pyro5 nameserver (`register(obj, { name, pyro5Ns })`)
 * and found there by Python: the real Pyro5 in child processes, on loopback. Needs python3 and
 * dpkg-deb: elsewhere it says why and skips, except under CI, where it must run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Daemon, DaemonError, expose, pyro5 } from "../src/index.js";
import { pollFor } from "./host-processes.js";
import { mustRunPyro5, pyro5Unavailable, runPython, startPythonNameServer } from "./pyro5-python.js";

@expose
class Laser {
  #mw = 0;
  get power(): number {
    return this.#mw;
  }
  setPower(mw: number): number {
    this.#mw = mw;
    return mw;
  }
}

const unavailable = pyro5Unavailable();

if (unavailable && mustRunPyro5) {
  it("runs against the real Pyro5 under CI", () => {
    throw new Error(`CI is set, so the Pyro5 nameserver tests must run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)(`pyro-ts objects in a Python Pyro5 nameserver${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ns: Awaited<ReturnType<typeof startPythonNameServer>>;
  let address: string;
  let nameserver: pyro5.Pyro5NameServer;

  beforeAll(async () => {
    ns = await startPythonNameServer();
    address = `${ns.host}:${ns.port}`;
    nameserver = await pyro5.locateNs({ host: ns.host, port: ns.port });
  }, 30_000);

  afterAll(async () => {
    await nameserver?.close();
    await ns?.stop();
  });

  /** The names under `prefix` in the Python nameserver, once they are what `expected` says (bounded wait). */
  const namesBecome = (prefix: string, expected: Record<string, string>): Promise<Record<string, string>> =>
    pollFor(`names under ${prefix} to be ${JSON.stringify(expected)}`, 5000, async () => {
      const names = await nameserver.list({ prefix });
      return JSON.stringify(names) === JSON.stringify(expected) ? names : undefined;
    });

  it("registers names when the daemon starts and later, and Python finds and calls them", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
    try {
      daemon.register(new Laser(), { id: "laser", name: "lab.laser", pyro5Ns: address, metadata: ["laser"] });
      await daemon.start();
      const uri = daemon.pyro5UriFor("laser");
      expect(uri).toBe(`PYRO:laser@127.0.0.1:${daemon.pyro5Location.port}`);
      await namesBecome("lab.", { "lab.laser": uri });
      expect(await nameserver.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri, metadata: ["laser"] });

      // Unchanged Python Pyro5, serpent (its default), by name through its nameserver.
      const called = await runPython("call_once.py", [`PYRONAME:lab.laser@${address}`, "setPower", "[5]"]);
      expect(JSON.parse(called.stdout)).toEqual({ ok: 5 });
      // And pyro-ts's own Pyro5 client, by the same name.
      const laser = await pyro5.lookup<Laser>("lab.laser", { ns: nameserver });
      try {
        expect(await laser.power).toBe(5);
      } finally {
        await laser.$close();
      }

      const second = new Laser();
      daemon.register(second, { id: "laser2", name: "lab.laser2", pyro5Ns: address });
      await namesBecome("lab.", { "lab.laser": uri, "lab.laser2": daemon.pyro5UriFor(second) });
      daemon.unregister(second);
      await namesBecome("lab.", { "lab.laser": uri });
    } finally {
      await daemon.close();
    }
    // Closing removes what the daemon registered.
    expect(await nameserver.list({ prefix: "lab." })).toEqual({});
  });

  it("refuses a Pyro5 name on a daemon that does not serve Pyro5 clients, and a name given twice", async () => {
    const plain = new Daemon({ host: "127.0.0.1", port: 0 });
    const dual = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
    try {
      expect(() => plain.register(new Laser(), { name: "lab.x", pyro5Ns: address })).toThrow(DaemonError);
      expect(() => plain.register(new Laser(), { name: "lab.x", pyro5Ns: address })).toThrow(/pyro5 option/);
      expect(plain.registered()).toEqual(["pyro-ts.Daemon"]);
      dual.register(new Laser(), { name: "lab.y", pyro5Ns: address });
      expect(() => dual.register(new Laser(), { name: "lab.y", pyro5Ns: address })).toThrow(/already registered/);
      expect(() => dual.register(new Laser(), { name: "bad name", pyro5Ns: address })).toThrow();
    } finally {
      await plain.close();
      await dual.close();
    }
  });
});
