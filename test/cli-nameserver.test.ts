/**
 * `pyro-ts nameserver` run as a child process (see cli-runner.ts): profiles and config files,
 * signals, storage (a sqlite one survives SIGKILL), --autoclean.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectOneLineError, freeUdpPort, nameserver, NS_ARGS, nsProxy, run, STACK, startOrExit, useCliWorkspace, work } from "./cli-runner.js";
import { freePort } from "./host-processes.js";

useCliWorkspace();

describe("pyro-ts nameserver", () => {
  it.each(["SIGINT", "SIGTERM"] as const)("prints its URI first and stops cleanly on %s", async (signal) => {
    const ns = await nameserver();
    await ns.proc.waitFor(/^broadcast responder on udp port \d+$/m);
    const ping = await run(["ns", "ping", "--ns", ns.ns]);
    expect(ping.code).toBe(0);
    expect(await ns.proc.stop(signal)).toEqual({ code: 0, signal: null });
    expect(ns.proc.stdout).toMatch(/^nameserver running at PYRO:pyro-ts\.NameServer@127\.0\.0\.1:\d+\nbroadcast responder on udp port \d+\nnameserver stopped\n$/);
    expect(ns.proc.stderr).toBe("");
  });

  it("-c file -l production uses the profile: port, broadcast port and sqlite storage", async () => {
    const [port, bcport] = [await freePort(), await freeUdpPort()];
    const db = join(work, "production.sqlite");
    const config = join(work, "lab.yml");
    writeFileSync(
      config,
      `nameservers:
  - default:
      host: 127.0.0.1
      broadcast: false
  - production:
      host: 127.0.0.1
      ns_port: ${port}
      ns_bchost: 127.0.0.1
      ns_bcport: ${bcport}
      ns_autoclean: 0.0
      storage_type: sql
      storage_file: ${db}
daemons:
  - default:
      host: localhost
`,
    );
    const ns = await nameserver(["-c", config, "-l", "production"]);
    expect(ns.port).toBe(port);
    await ns.proc.waitFor(new RegExp(`^broadcast responder on udp port ${bcport}$`, "m"));
    expect((await run(["ns", "register", "prod.thing", "PYRO:thing@127.0.0.1:1234", "--ns", ns.ns])).code).toBe(0);
    expect(await ns.proc.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(existsSync(db)).toBe(true);
    // The same profile again: the name was kept in the profile's sqlite file.
    const again = await nameserver(["-c", config, "-l", "production"]);
    const lookup = await run(["ns", "lookup", "prod.thing", "--ns", again.ns]);
    expect(lookup).toMatchObject({ code: 0, stdout: "PYRO:thing@127.0.0.1:1234\n" });
  });

  it("flags override the profile", async () => {
    const port = await freePort();
    const db = join(work, "never.sqlite");
    const config = join(work, "lab.yml");
    writeFileSync(config, `nameservers:\n  production:\n    host: 127.0.0.1\n    ns_port: ${port}\n    ns_bchost: 127.0.0.1\n    ns_bcport: ${await freeUdpPort()}\n    storage_type: sqlite\n    storage_file: ${db}\n`);
    const ns = await nameserver(["-c", config, "-l", "production", "--port", "0", "-x", "--storage", "memory"]);
    expect(ns.port).not.toBe(port);
    expect((await run(["ns", "ping", "--ns", ns.ns])).code).toBe(0);
    expect(await ns.proc.stop("SIGINT")).toEqual({ code: 0, signal: null });
    // -x: no broadcast responder; --storage memory: the profile's file was never created.
    expect(ns.proc.stdout).not.toContain("broadcast responder");
    expect(existsSync(db)).toBe(false);
  });

  it("finds ./pyro-ts.yml and PYRO_TS_CONFIG without -c", async () => {
    const [port1, port2] = [await freePort(), await freePort()];
    writeFileSync(join(work, "pyro-ts.yml"), `nameservers:\n  - default:\n      ns_port: ${port1}\n      broadcast: false\n`);
    const local = await nameserver([]);
    expect(local.port).toBe(port1);
    expect(local.proc.stdout).not.toContain("broadcast responder");
    await local.proc.stop("SIGTERM");
    const other = join(work, "other.yml");
    writeFileSync(other, `nameservers:\n  - lab:\n      ns_port: ${port2}\n      broadcast: false\n`);
    const fromEnv = await nameserver(["-l", "lab"], { env: { PYRO_TS_CONFIG: other } });
    expect(fromEnv.port).toBe(port2);
  });

  it("--storage sqlite:<file> keeps names across a clean restart", async () => {
    const storage = `sqlite:${join(work, "ns.db")}`;
    const first = await nameserver([...NS_ARGS, "--storage", storage]);
    const register = await run(["ns", "register", "keep.me", "PYRO:obj@127.0.0.1:1234", "--meta", "a,b", "--ns", first.ns]);
    expect(register).toMatchObject({ code: 0, stdout: "registered keep.me\n" });
    expect(await first.proc.stop("SIGINT")).toEqual({ code: 0, signal: null });
    const second = await nameserver([...NS_ARGS, "--storage", storage]);
    const lookup = await run(["ns", "lookup", "keep.me", "--json", "--ns", second.ns]);
    expect(lookup.code).toBe(0);
    expect(JSON.parse(lookup.stdout)).toEqual({ uri: "PYRO:obj@127.0.0.1:1234", metadata: ["a", "b"] });
  });

  it("--autoclean 1 removes a name whose object is gone and keeps a live one", async () => {
    const ns = await nameserver([...NS_ARGS, "--autoclean", "1"]);
    const proxy = await nsProxy(ns.ns);
    // The nameserver's daemon answers but serves no "ghost" object; it does serve the nameserver.
    await proxy.register("ghost", `PYRO:ghost@127.0.0.1:${ns.port}`);
    await proxy.register("alias.ns", ns.uri);
    const deadline = Date.now() + 9000;
    while (Date.now() < deadline && "ghost" in (await proxy.list())) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Object.keys(await proxy.list())).toEqual(["alias.ns", "pyro-ts.NameServer"]);
  }, 15_000);

  it("a bad profile name: exit 2 and one line, no stack trace", async () => {
    const noFile = await run(["nameserver", "-l", "prodution", ...NS_ARGS]);
    expect(noFile.code).toBe(2);
    expectOneLineError(noFile, 'ConfigError: no config file: no nameserver profile "prodution" (profiles: default; did you mean "default"?)');
    const config = join(work, "lab.yml");
    writeFileSync(config, "nameservers:\n  - production:\n      ns_port: 9100\n");
    const withFile = await run(["nameserver", "-c", config, "-l", "prodution", ...NS_ARGS]);
    expect(withFile.code).toBe(2);
    expectOneLineError(withFile, `ConfigError: ${config}: no nameserver profile "prodution" (profiles: production, default; did you mean "production"?)`);
    expect(withFile.stdout).toBe("");
  });

  it("a bad config file: exit 2 and one line naming file:line", async () => {
    const config = join(work, "lab.yml");
    writeFileSync(config, "nameservers:\n  - default:\n      ns_prot: 9100\n");
    const result = await run(["nameserver", "-c", config, ...NS_ARGS]);
    expect(result.code).toBe(2);
    expectOneLineError(result, `ConfigError: ${config}:3: unknown key "ns_prot" in nameserver profile "default" (did you mean "ns_port"?)`);
    const missing = await run(["nameserver", "-c", join(work, "missing.yml"), ...NS_ARGS]);
    expect(missing.code).toBe(2);
    expectOneLineError(missing, /^pyro-ts: ConfigError: cannot read config file .*missing\.yml/);
  });

  // Fixed bug, kept as a regression test: cli/output.ts nonNegativeNumber accepts any --autoclean >= 0, but the Autocleaner
  // refuses intervals below 1 s (src/naming/autoclean.ts constructor throws a RangeError),
  // so `--autoclean 0.5` fails only once the nameserver starts: exit 1 and a full stack
  // trace (describeError prints the stack of non-Pyro errors). Fix: an option parser that
  // accepts 0 or >= 1 (exit 2), and the same check for ns_autoclean in the config.
  it("--autoclean 0.5 is refused as a usage error (exit 2, one line) or runs", async () => {
    const outcome = await startOrExit([...NS_ARGS, "--autoclean", "0.5"]);
    if (outcome.exit) {
      expect(outcome.exit.code).toBe(2);
      expect(outcome.proc.stderr).not.toMatch(STACK);
    }
  });

  // Fixed bug, kept as a regression test: src/naming/autoclean.ts #schedule calls setTimeout(…, interval * 1000) with no
  // upper bound; above 2^31-1 ms (about 24.8 days) Node sets the delay to 1 ms, so
  // `--autoclean 3000000` sweeps every millisecond and floods stderr with
  // TimeoutOverflowWarning. Fix: reject intervals > 2147483 s in nonNegativeNumber/the
  // config, or clamp the timer (and re-arm it until the real interval has elapsed).
  it("--autoclean with a long interval is refused (exit 2) or does not sweep every millisecond", async () => {
    const outcome = await startOrExit([...NS_ARGS, "--autoclean", "3000000"]);
    if (outcome.exit) {
      expect(outcome.exit.code).toBe(2);
      expect(outcome.proc.stderr).not.toMatch(STACK);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(outcome.proc.stderr).not.toContain("TimeoutOverflowWarning");
    expect((await outcome.proc.stop("SIGINT")).code).toBe(0);
  });
});

describe("sqlite storage after SIGKILL", () => {
  it("every acknowledged registration survives kill -9 of the nameserver", async () => {
    const storage = `sqlite:${join(work, "ns.db")}`;
    const first = await nameserver([...NS_ARGS, "--storage", storage]);
    const proxy = await nsProxy(first.ns);
    for (let i = 0; i < 1000; i++) await proxy.register(`bulk.n${String(i).padStart(4, "0")}`, `PYRO:obj${i}@127.0.0.1:${10_000 + i}`, { metadata: i % 2 ? ["odd"] : [] });
    expect(await first.proc.stop("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
    expect(first.proc.stdout).not.toContain("nameserver stopped");

    const second = await nameserver([...NS_ARGS, "--storage", storage]);
    const after = await nsProxy(second.ns);
    expect(await after.count()).toBe(1001);
    const bulk = (await after.list({ prefix: "bulk." })) as Record<string, string>;
    expect(Object.keys(bulk)).toHaveLength(1000);
    expect(bulk["bulk.n0999"]).toBe("PYRO:obj999@127.0.0.1:10999");
    expect(Object.keys(await after.list({ metadataAll: ["odd"] }))).toHaveLength(500);
    // The nameserver's own entry is its new address.
    expect(await after.lookup("pyro-ts.NameServer")).toBe(second.uri);
  }, 40_000);
});
