/**
 * The README's quick start as a newcomer types it: `npx pyro-ts nameserver` runs the CLI
 * that `npm ci` built (dist/cli/pyro-ts.js must be executable for npx to run it).
 * Loopback only, free ports, the nameserver stopped after the test.
 */
import { accessSync, constants } from "node:fs";
import { spawn } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { CLI } from "./host-processes.js";

let stop: (() => void) | undefined;
afterEach(() => stop?.());

it("npx pyro-ts nameserver starts a nameserver", async () => {
  expect(() => accessSync(CLI, constants.X_OK)).not.toThrow();
  const child = spawn("npx", ["--no-install", "pyro-ts", "nameserver", "--port", "0", "--bcport", "0", "--bchost", "127.0.0.1"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  stop = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  const running = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "nameserver running" within 20 s: ${output}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = /nameserver running at \S+/.exec(output)?.[0];
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  expect(running).toMatch(/PYRO:pyro-ts\.NameServer@127\.0\.0\.1:\d+/);
}, 30_000);
