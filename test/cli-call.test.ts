/**
 * `pyro-ts call` and `pyro-ts info` run as child processes (see cli-runner.ts), against the
 * laser example server; with a watcher process too, the three together.
 */
import { describe, expect, it } from "vitest";
import { expectOneLineError, laserSetup, run, spawnNode, useCliWorkspace, WATCHER, within } from "./cli-runner.js";

useCliWorkspace();

describe("three processes: nameserver, laser server, a watcher; the CLI calls", () => {
  it("the watcher finds lab.laser with lookup and gets powerChanged when the CLI calls setPower", async () => {
    const { ns, server } = await laserSetup();
    const watcher = spawnNode(WATCHER, ["--ns", ns.ns]);
    await watcher.waitFor(/^\{"ready":"PYRO:lab\.laser@127\.0\.0\.1:\d+"\}$/m);
    const call = await run(["call", "lab.laser", "setPower", "5", "--ns", ns.ns]);
    expect(call).toMatchObject({ code: 0, stdout: "5\n", stderr: "" });
    const event = JSON.parse((await watcher.waitFor(/^\{"powerChanged":5,.*\}$/m))[0]) as { at: string; isDate: boolean };
    expect(event.isDate).toBe(true);
    expect(Math.abs(Date.parse(event.at) - Date.now())).toBeLessThan(10_000);
    expect((await run(["call", "lab.laser", "setPower", "6", "--ns", ns.ns])).code).toBe(0);
    await watcher.waitFor(/^\{"powerChanged":6,/m);
    // Every event came once.
    expect(watcher.stdout.match(/powerChanged/g)).toHaveLength(2);
    watcher.child.stdin!.end();
    expect((await within(watcher.exit, 5000, "the watcher to exit")).code).toBe(0);
    // The server unregisters lab.laser when stopped.
    expect((await server.stop("SIGTERM")).code).toBe(0);
    const list = await run(["ns", "list", "--json", "--ns", ns.ns]);
    expect(Object.keys(JSON.parse(list.stdout) as object)).toEqual(["pyro-ts.NameServer"]);
  });
});

describe("pyro-ts call and info", () => {
  it("call: JSON arguments (numbers, objects), text that is not JSON, attributes, --json", async () => {
    const { ns } = await laserSetup();
    const call = (...args: string[]) => run(["call", "lab.laser", ...args, "--ns", ns.ns]);

    expect(await call("setPower", "5")).toMatchObject({ code: 0, stdout: "5\n", stderr: "" });
    expect(await call("power")).toMatchObject({ code: 0, stdout: "5\n" });
    expect(await call("power", "--json")).toMatchObject({ code: 0, stdout: "5\n" });
    expect(await call("setPower", "2.5", "--json")).toMatchObject({ code: 0, stdout: "2.5\n" });

    const object = await call("setPower", '{"mw":3,"tags":["a","b"],"on":true}');
    expect(object.code).toBe(0);
    expect(JSON.parse(object.stdout)).toEqual({ mw: 3, tags: ["a", "b"], on: true });
    const read = await call("power", "--json");
    expect(JSON.parse(read.stdout)).toEqual({ mw: 3, tags: ["a", "b"], on: true });

    // Text that is not JSON is a string; a JSON string stays a string, not a number.
    expect(await call("setPower", "hello")).toMatchObject({ code: 0, stdout: "hello\n" });
    expect(await call("setPower", "hello", "--json")).toMatchObject({ code: 0, stdout: '"hello"\n' });
    expect(await call("setPower", '"7"', "--json")).toMatchObject({ code: 0, stdout: '"7"\n' });
    expect(await call("setPower", "7", "--json")).toMatchObject({ code: 0, stdout: "7\n" });
    expect(await call("setPower", "null", "--json")).toMatchObject({ code: 0, stdout: "null\n" });
  });

  it("call: a oneway method prints nothing; a URI target needs no nameserver; PYRO_TS_NS works", async () => {
    const { ns, server, laserUri } = await laserSetup();
    expect(await run(["call", "lab.laser", "blink", "3", "--ns", ns.ns])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    await server.waitFor(/^blinking 3 times$/m);
    expect(await run(["call", laserUri, "setPower", "4"])).toMatchObject({ code: 0, stdout: "4\n" });
    expect(await run(["call", "lab.laser", "power"], { env: { PYRO_TS_NS: ns.ns } })).toMatchObject({ code: 0, stdout: "4\n" });
    expect(await run(["call", `PYRONAME:lab.laser@${ns.ns}`, "power"])).toMatchObject({ code: 0, stdout: "4\n" });
  });

  it("call: a remote exception is exit 1 with `remote RangeError: negative` and no stack", async () => {
    const { ns } = await laserSetup();
    const result = await run(["call", "lab.laser", "setPower", "--ns", ns.ns, "--", "-1"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expectOneLineError(result, "remote RangeError: negative");
    // The failed call changed nothing.
    expect(await run(["call", "lab.laser", "power", "--ns", ns.ns])).toMatchObject({ code: 0, stdout: "0\n" });
  });

  it("call: an unknown or private member, or arguments to an attribute, is exit 2", async () => {
    const { ns } = await laserSetup();
    const [unknown, privateMember, attribute] = await Promise.all([
      run(["call", "lab.laser", "explode", "--ns", ns.ns]),
      run(["call", "lab.laser", "_internal", "--ns", ns.ns]),
      run(["call", "lab.laser", "power", "3", "--ns", ns.ns]),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('lab.laser has no method "explode"; methods: blink, setPower');
    expect(privateMember.code).toBe(2);
    expect(privateMember.stderr).toContain('has no method "_internal"');
    expect(attribute.code).toBe(2);
    expect(attribute.stderr).toContain("(it is an attribute: give no arguments)");
  });

  // Fixed bug, kept as a regression test: cli/output.ts describeError prints `error.stack` for every Error that is not a
  // PyroError, and UsageError (cli/output.ts) extends plain Error, so the usage errors
  // raised by the commands themselves (`call` with an unknown member, `ns remove --prefix`
  // without --yes) print a stack trace under the message, unlike commander's usage errors and
  // ConfigError. Fix: in describeError, `if (error instanceof UsageError) return error.message;`
  // (or make UsageError extend PyroError).
  it("usage errors raised by commands are one line, without a stack trace", async () => {
    const { ns } = await laserSetup();
    const unknown = await run(["call", "lab.laser", "explode", "--ns", ns.ns]);
    expect(unknown.code).toBe(2);
    expectOneLineError(unknown, /^pyro-ts: (UsageError: )?lab\.laser has no method "explode"; methods: blink, setPower\n$/);
    expect((await run(["ns", "register", "rm.a", "PYRO:a@127.0.0.1:1", "--ns", ns.ns])).code).toBe(0);
    const refused = await run(["ns", "remove", "rm.", "--prefix", "--ns", ns.ns]);
    expect(refused.code).toBe(2);
    expectOneLineError(refused, /^pyro-ts: (UsageError: )?not removed: confirm with --yes when not at a terminal\n$/);
  });

  it("info: text and --json show methods, attributes, oneway methods and signals", async () => {
    const { ns, laserUri } = await laserSetup();
    const [text, json] = await Promise.all([run(["info", "lab.laser", "--ns", ns.ns]), run(["info", "lab.laser", "--json", "--ns", ns.ns])]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [laserUri, "methods:    blink, setPower", "attributes: power (writable)", "oneway:     blink", "signals:    powerChanged", ""].join("\n"),
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      uri: laserUri,
      methods: ["blink", "setPower"],
      attributes: ["power"],
      writable: ["power"],
      oneway: ["blink"],
      signals: ["powerChanged"],
    });
    // The nameserver itself, by URI.
    const nsInfo = await run(["info", ns.uri, "--json"]);
    expect(nsInfo.code).toBe(0);
    const meta = JSON.parse(nsInfo.stdout) as { methods: string[]; signals: string[] };
    // Only the API: registerSelf (a plain public method of NameServer) is not exposed.
    expect(meta.methods).toEqual(["conflicts", "count", "list", "lookup", "peers", "ping", "register", "remove", "setMetadata"]);
    expect([...meta.signals].sort()).toEqual(["conflict", "metadataChanged", "peerChanged", "registered", "removed", "resynced"]);
  });
});
