import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0).reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
});

/** Starts a node script from dist/ and resolves with its first stdout line. */
async function start(script: string, args: string[]): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const firstLine = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${script} printed nothing within 5 s`)), 5000);
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, newline));
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before printing`)));
  });
  return { child, firstLine };
}

describe("examples/laser, as the README runs it", () => {
  it("nameserver, server and client in three processes: lookup, calls and a signal", async () => {
    const { child: nameserver, firstLine } = await start("dist/cli/pyro-ts.js", ["nameserver", "--port", "0", "--bcport", "0"]);
    const ns = /@([\d.]+:\d+)/.exec(firstLine)![1]!;
    const { child: server, firstLine: served } = await start("dist/examples/laser/server.js", ["--ns", ns]);
    expect(served).toMatch(/^lab\.laser served at PYRO:lab\.laser@127\.0\.0\.1:\d+/);
    const { stdout } = await run(process.execPath, ["dist/examples/laser/client.js", "--ns", ns], { timeout: 10_000 });
    expect(stdout).toMatch(/signal powerChanged\(5, \d{4}-\d\d-\d\dT/);
    expect(stdout).toContain("setPower(5) -> 5");
    expect(stdout).toContain("power after $set -> 7");
    expect(stdout).toContain("setPower(-1) -> remote RangeError: negative");
    server.kill("SIGTERM");
    expect((await once(server, "exit"))[0]).toBe(0);
    const { stdout: names } = await run(process.execPath, ["dist/cli/pyro-ts.js", "ns", "list", "--ns", ns, "--json"]);
    expect(Object.keys(JSON.parse(names) as object)).toEqual(["pyro-ts.NameServer"]);
    nameserver.kill("SIGINT");
    expect((await once(nameserver, "exit"))[0]).toBe(0);
  });
});

describe("pyro-ts CLI", () => {
  it("prints help and its version", async () => {
    const help = await run(process.execPath, ["dist/cli/pyro-ts.js", "--help"]);
    expect(help.stdout).toMatch(/Usage: pyro-ts/);
    const version = await run(process.execPath, ["dist/cli/pyro-ts.js", "--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
