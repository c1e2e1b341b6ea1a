/** `pyro-ts ns` run as a child process (see cli-runner.ts): list, lookup, register, remove, setmeta, ping, watch. */
import { describe, expect, it } from "vitest";
import type { NameEntry, NameServer, Remote } from "../src/index.js";
import { CLI, expectOneLineError, nameserver, nsProxy, run, spawnNode, useCliWorkspace, type RunningNs } from "./cli-runner.js";

useCliWorkspace();

describe("pyro-ts ns", () => {
  const names: Record<string, [uri: string, tags: string[]]> = {
    "lab.camera": ["PYRO:camera@127.0.0.1:2001", ["camera", "1550nm"]],
    "lab.laser": ["PYRO:laser@127.0.0.1:2002", ["laser", "1550nm"]],
    "lab.stage": ["PYRO:stage@127.0.0.1:2003", ["motion"]],
    "office.printer": ["PYRO:printer@127.0.0.1:2004", []],
  };

  async function seeded(): Promise<{ ns: RunningNs; proxy: Remote<NameServer> }> {
    const ns = await nameserver();
    const proxy = await nsProxy(ns.ns);
    for (const [name, [uri, metadata]] of Object.entries(names)) await proxy.register(name, uri, { metadata });
    return { ns, proxy };
  }

  it("list: all, by prefix, --regex, --meta-all, --meta-any, --json and text", async () => {
    const { ns } = await seeded();
    const json = async (...args: string[]): Promise<Record<string, NameEntry>> => {
      const result = await run(["ns", "list", ...args, "--json", "--ns", ns.ns]);
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as Record<string, NameEntry>;
    };
    const [all, lab, regex, metaAll, metaAny, none] = await Promise.all([
      json(),
      json("lab."),
      json("--regex", "lab\\.(laser|stage)$"),
      json("--meta-all", "laser,1550nm"),
      json("--meta-any", "motion,camera"),
      json("nothing."),
    ]);
    expect(Object.keys(all)).toEqual(["lab.camera", "lab.laser", "lab.stage", "office.printer", "pyro-ts.NameServer"]);
    expect(all["lab.laser"]).toEqual({ uri: "PYRO:laser@127.0.0.1:2002", metadata: ["1550nm", "laser"] });
    expect(all["pyro-ts.NameServer"]).toEqual({ uri: ns.uri, metadata: [] });
    expect(Object.keys(lab)).toEqual(["lab.camera", "lab.laser", "lab.stage"]);
    expect(Object.keys(regex)).toEqual(["lab.laser", "lab.stage"]);
    expect(Object.keys(metaAll)).toEqual(["lab.laser"]);
    expect(Object.keys(metaAny)).toEqual(["lab.camera", "lab.stage"]);
    expect(none).toEqual({});
    // Criteria combine.
    expect(Object.keys(await json("lab.", "--meta-any", "1550nm", "--regex", ".*laser"))).toEqual(["lab.laser"]);

    const text = await run(["ns", "list", "lab.", "--ns", ns.ns]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [
        "lab.camera  PYRO:camera@127.0.0.1:2001  [1550nm, camera]",
        "lab.laser   PYRO:laser@127.0.0.1:2002  [1550nm, laser]",
        "lab.stage   PYRO:stage@127.0.0.1:2003  [motion]",
        "",
      ].join("\n"),
    );
    expect((await run(["ns", "list", "nothing.", "--ns", ns.ns])).stdout).toBe("(no names)\n");
  });

  it("list: a bad regex or empty tag list is refused", async () => {
    const { ns } = await seeded();
    const [regex, tags] = await Promise.all([run(["ns", "list", "--regex", "(", "--ns", ns.ns]), run(["ns", "list", "--meta-all", "", "--ns", ns.ns])]);
    expect(regex.code).toBe(1);
    expectOneLineError(regex, /^pyro-ts: NamingError: invalid regex "\("/);
    expect(tags.code).toBe(2);
    expect(tags.stderr).toContain("expected a comma-separated list");
  });

  it("lookup: text prints the URI, --json the URI and metadata", async () => {
    const { ns } = await seeded();
    const [text, json] = await Promise.all([
      run(["ns", "lookup", "lab.laser", "--ns", ns.ns]),
      run(["ns", "lookup", "lab.laser", "--json", "--ns", ns.ns]),
    ]);
    expect(text).toMatchObject({ code: 0, stdout: "PYRO:laser@127.0.0.1:2002\n", stderr: "" });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ uri: "PYRO:laser@127.0.0.1:2002", metadata: ["1550nm", "laser"] });
  });

  it("register: with --meta; replaces by default; --safe refuses a duplicate (exit 1)", async () => {
    const { ns, proxy } = await seeded();
    const registered = await run(["ns", "register", "lab.new", "PYRO:new@127.0.0.1:3000", "--meta", "x, y", "--ns", ns.ns]);
    expect(registered).toMatchObject({ code: 0, stdout: "registered lab.new\n", stderr: "" });
    expect(await proxy.lookup("lab.new", { returnMetadata: true })).toEqual({ uri: "PYRO:new@127.0.0.1:3000", metadata: ["x", "y"] });

    const safe = await run(["ns", "register", "lab.new", "PYRO:other@127.0.0.1:3001", "--safe", "--ns", ns.ns]);
    expect(safe.code).toBe(1);
    expectOneLineError(safe, 'NamingError: "lab.new" is already registered');
    expect(await proxy.lookup("lab.new")).toBe("PYRO:new@127.0.0.1:3000");

    const replaced = await run(["ns", "register", "lab.new", "PYRO:other@127.0.0.1:3001", "--ns", ns.ns]);
    expect(replaced.code).toBe(0);
    expect(await proxy.lookup("lab.new", { returnMetadata: true })).toEqual({ uri: "PYRO:other@127.0.0.1:3001", metadata: [] });

    const [badUri, badName, own] = await Promise.all([
      run(["ns", "register", "lab.bad", "PYRO:nolocation", "--ns", ns.ns]),
      run(["ns", "register", "bad name", "PYRO:x@127.0.0.1:1", "--ns", ns.ns]),
      run(["ns", "register", "pyro-ts.NameServer", "PYRO:x@127.0.0.1:1", "--ns", ns.ns]),
    ]);
    for (const bad of [badUri, badName, own]) {
      expect(bad.code).toBe(1);
      expectOneLineError(bad, /^pyro-ts: NamingError: /);
    }
    expect(await proxy.lookup("pyro-ts.NameServer")).toBe(ns.uri);
  });

  it("remove: one name; --prefix/--regex with --yes; refused without --yes when stdin is not a TTY", async () => {
    const { ns, proxy } = await seeded();
    for (const name of ["rm.a1", "rm.a2", "rm.b1", "x.1", "x.2", "x.3"]) await proxy.register(name, `PYRO:${name}@127.0.0.1:4000`);
    const remove = (...args: string[]) => run(["ns", "remove", ...args, "--ns", ns.ns]);

    expect(await remove("rm.b1")).toMatchObject({ code: 0, stdout: "removed 1 name(s)\n" });
    expect(await remove("rm.b1")).toMatchObject({ code: 0, stdout: "removed 0 name(s)\n" });

    for (const refused of await Promise.all([remove("rm.a", "--prefix"), remove("rm\\.a\\d", "--regex")])) {
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("not removed: confirm with --yes when not at a terminal");
      expect(refused.stdout).toBe("");
    }
    expect(Object.keys(await proxy.list({ prefix: "rm." }))).toEqual(["rm.a1", "rm.a2"]);

    expect(await remove("rm.a", "--prefix", "--yes")).toMatchObject({ code: 0, stdout: "removed 2 name(s)\n" });
    expect(await remove("x\\.[12]$", "--regex", "-y")).toMatchObject({ code: 0, stdout: "removed 2 name(s)\n" });
    expect(Object.keys(await proxy.list({ regex: "(rm|x)\\." }))).toEqual(["x.3"]);
    // Nothing matching: nothing to confirm.
    expect(await remove("nothing.", "--prefix")).toMatchObject({ code: 0, stdout: "removed 0 name(s)\n" });
    // The nameserver's own entry never goes.
    expect(await remove("pyro-ts", "--prefix", "--yes")).toMatchObject({ code: 0, stdout: "removed 0 name(s)\n" });
    expect(await remove("pyro-ts.NameServer")).toMatchObject({ code: 0, stdout: "removed 0 name(s)\n" });
    expect(await proxy.count()).toBe(1 + Object.keys(names).length + 1);
  });

  it("setmeta: replaces the tags, \"\" clears them, an unknown name is exit 1", async () => {
    const { ns, proxy } = await seeded();
    const set = await run(["ns", "setmeta", "lab.stage", "motion,xyz, piezo", "--ns", ns.ns]);
    expect(set).toMatchObject({ code: 0, stdout: "metadata of lab.stage: motion, xyz, piezo\n" });
    expect(((await proxy.lookup("lab.stage", { returnMetadata: true })) as NameEntry).metadata).toEqual(["motion", "piezo", "xyz"]);
    const cleared = await run(["ns", "setmeta", "lab.stage", "", "--ns", ns.ns]);
    expect(cleared).toMatchObject({ code: 0, stdout: "metadata of lab.stage: (none)\n" });
    expect(((await proxy.lookup("lab.stage", { returnMetadata: true })) as NameEntry).metadata).toEqual([]);
    const unknown = await run(["ns", "setmeta", "no.such", "a", "--ns", ns.ns]);
    expect(unknown.code).toBe(1);
    expectOneLineError(unknown, 'NamingError: unknown name "no.such"');
  });

  it("ping: with --ns and with PYRO_TS_NS", async () => {
    const ns = await nameserver();
    const [flag, env] = await Promise.all([run(["ns", "ping", "--ns", ns.ns]), run(["ns", "ping"], { env: { PYRO_TS_NS: ns.ns } })]);
    expect(flag).toMatchObject({ code: 0, stdout: `nameserver ${ns.uri} is alive\n`, stderr: "" });
    expect(env).toMatchObject({ code: 0, stdout: `nameserver ${ns.uri} is alive\n`, stderr: "" });
  });

  it("watch: prints registrations, metadata changes and removals; SIGINT ends it with exit 0", async () => {
    const ns = await nameserver();
    const watch = spawnNode(CLI, ["ns", "watch", "--ns", ns.ns]);
    const watchJson = spawnNode(CLI, ["ns", "watch", "--json", "--ns", ns.ns]);
    await watch.waitFor(new RegExp(`^watching ${ns.uri.replace(/\./g, "\\.")}$`, "m"));
    await watchJson.waitFor(/^watching /m);

    expect((await run(["ns", "register", "w.one", "PYRO:one@127.0.0.1:1234", "--meta", "b,a", "--ns", ns.ns])).code).toBe(0);
    await watch.waitFor(/^\+ w\.one PYRO:one@127\.0\.0\.1:1234 \[a, b\]$/m);
    expect((await run(["ns", "setmeta", "w.one", "c", "--ns", ns.ns])).code).toBe(0);
    await watch.waitFor(/^~ w\.one \[c\]$/m);
    expect((await run(["ns", "remove", "w.one", "--ns", ns.ns])).code).toBe(0);
    await watch.waitFor(/^- w\.one PYRO:one@127\.0\.0\.1:1234$/m);

    await watchJson.waitFor(/"event":"removed"/);
    const events = watchJson.stdout.split("\n").slice(1).filter(Boolean).map((line) => JSON.parse(line) as unknown);
    expect(events).toEqual([
      { event: "registered", name: "w.one", uri: "PYRO:one@127.0.0.1:1234", metadata: ["a", "b"] },
      { event: "metadataChanged", name: "w.one", metadata: ["c"] },
      { event: "removed", name: "w.one", uri: "PYRO:one@127.0.0.1:1234" },
    ]);

    expect(await watch.stop("SIGINT")).toEqual({ code: 0, signal: null });
    expect(await watchJson.stop("SIGINT")).toEqual({ code: 0, signal: null });
    expect(watch.stdout.split("\n").filter(Boolean)).toHaveLength(4);
    expect(watch.stderr).toBe("");
  });
});
