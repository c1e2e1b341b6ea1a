import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
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

describe("examples/laser", () => {
  it("the client drives the server as the README says", async () => {
    const { child, firstLine } = await start("dist/examples/laser/server.js", ["0"]);
    const uri = /(PYRO:\S+)/.exec(firstLine)![1]!;
    const { stdout } = await run(process.execPath, ["dist/examples/laser/client.js", uri], { timeout: 10_000 });
    expect(stdout).toContain("setPower(5) -> 5");
    expect(stdout).toContain("power after $set -> 7");
    expect(stdout).toContain("setPower(-1) -> remote RangeError: negative");
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
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
