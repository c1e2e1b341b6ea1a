/**
 * Daemons and clients in separate processes: real TCP on 127.0.0.1, children killed
 * hard or soft, a daemon restarted on the same port under a live proxy. The children run
 * the compiled fixtures in dist/test/fixtures, so `npm run build` first.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionClosedError, parseUri } from "../src/index.js";
import type { ClientReport } from "./fixtures/laser-client.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";
import { NodeChild } from "./node-child.js";

const use = resources();

const FIXTURES = ["laser-daemon", "open-call-close", "laser-client"] as const;
type Fixture = (typeof FIXTURES)[number];
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const scriptOf = (name: Fixture): string => fileURLToPath(new URL(`../dist/test/fixtures/${name}.js`, import.meta.url));

const children: NodeChild[] = [];

function start(name: Fixture, args: readonly string[] = [], stdin: "pipe" | "ignore" = "pipe"): NodeChild {
  const child = new NodeChild(name, scriptOf(name), args, { stdin, cwd: ROOT });
  children.push(child);
  return child;
}

/** Starts the daemon fixture and waits for its URI. */
async function startDaemon(port = 0): Promise<{ child: NodeChild; uri: string; port: number }> {
  const child = start("laser-daemon", [String(port)]);
  const uri = await child.line(0, 10_000);
  expect(uri).toMatch(/^PYRO:laser@127\.0\.0\.1:\d+$/);
  const location = parseUri(uri).location;
  if (location?.transport !== "tcp") throw new Error(`not a TCP URI: ${uri}`);
  if (port !== 0) expect(location.port).toBe(port);
  return { child, uri, port: location.port };
}

afterEach(async () => {
  // Every child ends with its test, killed if need be, and is waited for.
  const all = children.splice(0);
  for (const child of all) child.signal("SIGKILL");
  for (const child of all) {
    if (!(await child.exited(5000))) throw new Error(`${child.name} (pid ${child.process.pid}) survived SIGKILL for 5 s`);
  }
});

beforeAll(() => {
  for (const name of FIXTURES) {
    if (!existsSync(scriptOf(name))) throw new Error(`${scriptOf(name)} is missing: run \`npm run build\` before these tests`);
  }
});

describe("a daemon in a child process", () => {
  it("(a) serves calls from this process, and ends by itself on SIGTERM", async () => {
    const { child, uri } = await startDaemon();
    const laser = await use.connect<Laser>(uri, { timeout: 5000 });
    expect(await laser.setPower(3)).toBe(3);
    expect(await laser.power).toBe(3);
    expect(await laser.wavelength).toBe(1550);
    const value = { when: new Date(1_000), tags: new Set([1, 2]), bytes: new Uint8Array([9, 8, 7]) };
    expect(await laser.echo(value)).toEqual(value);
    await expect(laser.setPower(-1)).rejects.toMatchObject({ name: "RangeError", message: "negative" });
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => laser.echo(i)));
    expect(many).toEqual(Array.from({ length: 200 }, (_, i) => i));

    child.signal("SIGTERM");
    expect(await child.expectExit(5000)).toEqual({ code: 0, signal: null });
  });

  it("(b) rejects a pending call with ConnectionClosedError promptly when the daemon is SIGKILLed", async () => {
    const { child, uri } = await startDaemon();
    const laser = await use.connect<Laser>(uri, { timeout: 20_000 });
    expect(await laser.echo("up")).toBe("up");

    let settledAt = 0;
    const pending = laser.sleep(5000).then(
      (value) => ({ value, at: (settledAt = Date.now()) }),
      (error: unknown) => ({ error, at: (settledAt = Date.now()) }),
    );
    await sleep(200); // the call is in the daemon now
    const killedAt = Date.now();
    child.signal("SIGKILL");
    const outcome = await Promise.race([pending, sleep(4000).then(() => undefined)]);
    expect(outcome, "the pending call was still pending 4 s after the daemon died").toBeDefined();
    expect(outcome).not.toHaveProperty("value");
    expect((outcome as { error: unknown }).error).toBeInstanceOf(ConnectionClosedError);
    // Well under the call's own 5 s and the proxy's 20 s timeout.
    expect(settledAt - killedAt).toBeLessThan(2000);
    expect(await child.expectExit(5000)).toEqual({ code: null, signal: "SIGKILL" });
  });

  it.each(["SIGKILL", "SIGTERM"] as const)("(c) the same proxy works again, with no user action, after the daemon is restarted on its port (%s)", async (signal) => {
    const first = await startDaemon();
    const laser = await use.connect<Laser>(first.uri, { timeout: 10_000 });
    expect(await laser.setPower(5)).toBe(5);

    first.child.signal(signal);
    const exit = await first.child.expectExit(5000);
    expect(exit).toEqual(signal === "SIGTERM" ? { code: 0, signal: null } : { code: null, signal: "SIGKILL" });
    // Let the proxy notice the loss before asking anything of it.
    await sleep(200);
    // A call made while the daemon is down waits (within its timeout) and goes out on reconnection.
    const whileDown = laser.echo("sent while down");

    const second = await startDaemon(first.port);
    expect(second.uri).toBe(first.uri);
    const restartedAt = Date.now();
    expect(await laser.echo("again")).toBe("again");
    expect(Date.now() - restartedAt).toBeLessThan(5000);
    expect(await whileDown).toBe("sent while down");
    // It is a new daemon with a new Laser.
    expect(await laser.power).toBe(0);
    expect(await laser.setPower(6)).toBe(6);
  });
});

describe("a process that opens, calls and closes", () => {
  it("(d) ends by itself with code 0 within 2 s", async () => {
    const started = performance.now();
    const child = start("open-call-close", [], "ignore");
    const exit = await child.exited(2000);
    const elapsed = performance.now() - started;
    if (!exit) {
      child.signal("SIGKILL");
      await child.exited(5000);
      expect.fail(`open-call-close was still running after 2 s and had to be killed; stdout ${JSON.stringify(child.lines)}, stderr ${JSON.stringify(child.stderr)}`);
    }
    expect(exit, child.stderr).toEqual({ code: 0, signal: null });
    expect(child.lines).toEqual([JSON.stringify({ answer: 42 })]);
    expect(elapsed).toBeLessThan(2000);
  });
});

describe("a client in a child process", () => {
  it("(e) calls a daemon in this process", async () => {
    const daemon = await use.daemon();
    const laser = new Laser();
    const uri = daemon.register(laser, "laser");
    const child = start("laser-client", [uri]);
    const exit = await child.expectExit(10_000);
    const line = child.lines[0] ?? "";
    expect(exit, `${line} ${child.stderr}`).toEqual({ code: 0, signal: null });
    const report = JSON.parse(line) as ClientReport;
    expect(report).toEqual({
      power: 7,
      readBack: 7,
      wavelength: 1550,
      echoKeptTypes: true,
      failure: { name: "RangeError", message: "negative", isRemoteError: true },
    });
    // The calls ran here, on this process's Laser.
    expect(laser.power).toBe(7);
    // The oneway blink, sent just before the client closed its proxy, arrived too.
    await expect.poll(() => laser.blinks, { timeout: 2000 }).toBe(2);
  });
});
