/**
 * Daemons and clients in separate processes: real TCP on 127.0.0.1, children killed
 * hard or soft, a daemon restarted on the same port under a live proxy. The children run
 * the compiled fixtures in dist/test/fixtures, so `npm run build` first.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConnectionClosedError, parseUri } from "../src/index.js";
import type { ClientReport } from "./fixtures/laser-client.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";

const use = resources();

const FIXTURES = ["laser-daemon", "open-call-close", "laser-client"] as const;
type Fixture = (typeof FIXTURES)[number];
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const scriptOf = (name: Fixture): string => fileURLToPath(new URL(`../dist/test/fixtures/${name}.js`, import.meta.url));

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A node child running a compiled fixture; stdout is collected as lines, every wait is bounded. */
class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  exit: Exit | undefined;
  /** Settles once the process has exited and its output was read to the end. */
  readonly closed: Promise<Exit>;
  readonly #wake = new Set<() => void>();

  constructor(readonly name: Fixture, args: readonly string[], stdin: "pipe" | "ignore") {
    // A piped stdin ends when this test process does: the daemon fixture then shuts down,
    // so no child outlives a crashed test run.
    this.process = spawn(process.execPath, [scriptOf(name), ...args], { cwd: ROOT, stdio: [stdin, "pipe", "pipe"] });
    this.process.stdin?.on("error", () => {});
    let partial = "";
    this.process.stdout!.setEncoding("utf8");
    this.process.stdout!.on("data", (chunk: string) => {
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        this.lines.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
      this.#notify();
    });
    this.process.stderr!.setEncoding("utf8");
    this.process.stderr!.on("data", (chunk: string) => {
      if (this.stderr.length < 20_000) this.stderr += chunk;
    });
    this.closed = new Promise((resolve) => {
      this.process.once("close", (code, signal) => {
        this.exit = { code, signal };
        this.#notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  #notify(): void {
    for (const wake of [...this.#wake]) wake();
  }

  #describe(): string {
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : "still running";
    return `${this.name} ${status}; stdout ${JSON.stringify(this.lines)}; stderr ${JSON.stringify(this.stderr.slice(-2000))}`;
  }

  /** The `index`th line of stdout (0-based), waiting at most `timeoutMs`. */
  async line(index: number, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length <= index) {
      if (this.exit) throw new Error(`no stdout line ${index}: ${this.#describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no stdout line ${index} within ${timeoutMs} ms: ${this.#describe()}`);
      await this.#wait(left);
    }
    return this.lines[index]!;
  }

  /** How the process ended, waiting at most `timeoutMs`; undefined if it is still running then. */
  async exited(timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.closed, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return result;
  }

  /** Like exited(), but failing the test with the child's output if it does not end in time. */
  async expectExit(timeoutMs: number): Promise<Exit> {
    const exit = await this.exited(timeoutMs);
    if (!exit) throw new Error(`did not exit within ${timeoutMs} ms: ${this.#describe()}`);
    return exit;
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake.add(done);
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal);
  }
}

const children: Child[] = [];

function start(name: Fixture, args: readonly string[] = [], stdin: "pipe" | "ignore" = "pipe"): Child {
  const child = new Child(name, args, stdin);
  children.push(child);
  return child;
}

/** Starts the daemon fixture and waits for its URI. */
async function startDaemon(port = 0): Promise<{ child: Child; uri: string; port: number }> {
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
  for (const child of all) child.kill("SIGKILL");
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

    child.kill("SIGTERM");
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
    child.kill("SIGKILL");
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

    first.child.kill(signal);
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
      child.kill("SIGKILL");
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
