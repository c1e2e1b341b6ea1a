/** The exit codes of `pyro-ts` (see cli-runner.ts): 0 ok, 1 remote or user error, 2 usage. */
import { describe, expect, it } from "vitest";
import { expectOneLineError, nameserver, run, STACK, useCliWorkspace } from "./cli-runner.js";
import { freePort } from "./host-processes.js";

useCliWorkspace();

describe("exit codes", () => {
  it("an unknown command or a bad option value is 2", async () => {
    const [command, portValue, nsCommand, missingArg] = await Promise.all([
      run(["launch"]),
      run(["nameserver", "--port", "abc"]),
      run(["ns", "frobnicate"]),
      run(["call", "lab.laser"]),
    ]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'launch'");
    expect(portValue.code).toBe(2);
    expect(portValue.stderr).toContain("argument 'abc' is invalid. expected a port number (0-65535)");
    expect(nsCommand.code).toBe(2);
    expect(nsCommand.stderr).toContain("unknown command 'frobnicate'");
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("missing required argument 'member'");
    for (const result of [command, portValue, nsCommand, missingArg]) expect(result.stderr).not.toMatch(STACK);
  });

  it("--help and --version are 0", async () => {
    const [help, version] = await Promise.all([run(["ns", "--help"]), run(["--version"])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: pyro-ts ns");
    expect(version).toMatchObject({ code: 0, stdout: "0.1.0\n" });
  });

  it("an unknown name is 1", async () => {
    const ns = await nameserver();
    const results = await Promise.all([
      run(["ns", "lookup", "no.such.name", "--ns", ns.ns]),
      run(["call", "no.such.name", "ping", "--ns", ns.ns]),
      run(["info", "no.such.name", "--ns", ns.ns]),
    ]);
    for (const result of results) {
      expect(result.code).toBe(1);
      expectOneLineError(result, 'NamingError: unknown name "no.such.name"');
    }
  });

  it("an unreachable nameserver is 1 with a clear NamingError, in bounded time", async () => {
    const closed = await freePort();
    const ns = `127.0.0.1:${closed}`;
    const results = await Promise.all([
      run(["ns", "ping", "--ns", ns]),
      run(["ns", "list", "--ns", ns]),
      run(["call", "lab.laser", "power", "--ns", ns]),
      run(["info", "lab.laser", "--ns", ns]),
      run(["ns", "ping"], { env: { PYRO_TS_NS: ns } }),
    ]);
    for (const result of results) {
      expect(result.code).toBe(1);
      expectOneLineError(result, `NamingError: no nameserver answers at ${ns}`);
      expect(result.ms).toBeLessThan(10_000);
    }
  });

  // Fixed bug, kept as a regression test: cli/commands/call.ts parses --timeout with `(v) => Number(v)`, so `abc`, `-5` or
  // `0` pass as NaN/-5/0. locateNs then connects, sets `proxy.$timeout = NaN`, which throws a
  // RangeError inside attempt() (src/naming/locate.ts) *after* the proxy was opened: the
  // error is reported as "no nameserver answers" and the leaked proxy keeps the process alive
  // forever (it never exits). Fixes: a positive-number option parser for --timeout (exit
  // 2), and in attempt() validate the timeout before connecting or `$close()` the proxy
  // when setting it fails.
  it("a bad --timeout value is 2, and the command ends", async () => {
    const ns = await nameserver();
    const result = await run(["call", "lab.laser", "power", "--timeout", "abc", "--ns", ns.ns], { timeout: 4000 });
    expect(result.code).toBe(2);
  });
});
