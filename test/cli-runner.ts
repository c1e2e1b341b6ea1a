/**
 * Runs the `pyro-ts` command line as child processes from dist/ (build first), for
 * cli-nameserver, cli-ns, cli-call and cli-exit-codes.test.ts: nameservers, the laser example
 * server, one-shot commands, with bounded waits on their output.
 *
 * Loopback only: every nameserver binds 127.0.0.1 on a free port (its broadcast responder
 * too), every client gets `--ns 127.0.0.1:<port>` or PYRO_TS_NS. Children run in a temp
 * working directory without PYRO_TS_NS / PYRO_TS_CONFIG, so a developer's own
 * ./pyro-ts.yml or environment cannot leak in.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect } from "vitest";
import { locateNs, type NameServer, type Remote } from "../src/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = join(ROOT, "dist/cli/pyro-ts.js");
const LASER_SERVER = join(ROOT, "dist/examples/laser/server.js");
export const WATCHER = join(ROOT, "dist/test/fixtures/cli-watcher.js");
/** Binds the broadcast responder to loopback too. */
export const NS_ARGS = ["--port", "0", "--bcport", "0", "--bchost", "127.0.0.1"];
/** A stack trace line. */
export const STACK = /^\s+at /m;

// ---------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process whose output is collected, with bounded waits on it. */
export class Proc {
  stdout = "";
  stderr = "";
  readonly exit: Promise<Exit>;
  readonly #changed = new Set<() => void>();
  #closed = false;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      this.#notify();
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      this.#notify();
    });
    child.stdin?.on("error", () => {});
    this.exit = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        this.#closed = true;
        resolve({ code, signal });
        this.#notify();
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  #notify(): void {
    for (const listener of [...this.#changed]) listener();
  }

  /** Resolves with the first match of `pattern` in stdout; rejects on exit or timeout. */
  waitFor(pattern: RegExp, ms = 8000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(this.stdout);
        if (match) {
          done();
          resolve(match);
        } else if (this.#closed) {
          done();
          reject(new Error(`${this.label} exited before printing ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label} did not print ${pattern} within ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.#changed.delete(check);
      };
      this.#changed.add(check);
      check();
    });
  }

  /** Sends `signal` and waits (bounded) for the exit. */
  async stop(signal: NodeJS.Signals, ms = 8000): Promise<Exit> {
    this.child.kill(signal);
    return within(this.exit, ms, `${this.label} to exit after ${signal}`);
  }
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const procs: Proc[] = [];
const closers: Array<() => Promise<unknown>> = [];
export let work: string;

/**
 * A temporary working directory for each test (`work`), and every child process and proxy of
 * the test ended after it. Call once at the top level of a test file that uses this module.
 */
export function useCliWorkspace(): void {
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "pyro-ts-cli-"));
  });

  afterEach(async () => {
    while (closers.length) await within(closers.pop()!(), 5000, "a proxy to close").catch(() => {});
    for (const proc of procs.splice(0).reverse()) {
      if (proc.running) proc.child.kill("SIGKILL");
      await within(proc.exit, 5000, `${proc.label} to die`).catch(() => {});
    }
    rmSync(work, { recursive: true, force: true });
  });
}

interface SpawnOptions {
  /** Added to (or, when undefined, removed from) the child's environment. */
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
}

function childEnv(extra: SpawnOptions["env"] = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PYRO_TS_NS;
  delete env.PYRO_TS_CONFIG;
  // vitest sets it; keep discovery on loopback whatever happens.
  env.PYRO_TS_BROADCAST ??= "127.255.255.255";
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts `node script ...args`, killed after the test if still running. */
export function spawnNode(script: string, args: string[], options: SpawnOptions = {}): Proc {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd ?? work,
    env: childEnv(options.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const proc = new Proc(child, `${script.slice(ROOT.length)} ${args.join(" ")}`);
  procs.push(proc);
  return proc;
}

interface Result extends Exit {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `pyro-ts ...args` to its end (stdin is an empty pipe: not a TTY); killed after `timeout` ms. */
export async function run(args: string[], options: SpawnOptions & { timeout?: number } = {}): Promise<Result> {
  const started = Date.now();
  const proc = spawnNode(CLI, args, options);
  proc.child.stdin!.end();
  const timeout = options.timeout ?? 10_000;
  const exit = await within(proc.exit, timeout, `pyro-ts ${args.join(" ")}`).catch(async () => {
    proc.child.kill("SIGKILL");
    await proc.exit;
    return { code: null, signal: "SIGKILL" as const, timedOut: true };
  });
  return { code: exit.code, signal: exit.signal, stdout: proc.stdout, stderr: proc.stderr, ms: Date.now() - started };
}

export interface RunningNs {
  readonly proc: Proc;
  readonly uri: string;
  readonly port: number;
  /** `127.0.0.1:<port>`, for --ns. */
  readonly ns: string;
}

/** `pyro-ts nameserver ...args`, once it printed its URI. */
export async function nameserver(args: string[] = NS_ARGS, options: SpawnOptions = {}): Promise<RunningNs> {
  const proc = spawnNode(CLI, ["nameserver", ...args], options);
  const match = await proc.waitFor(/^nameserver running at (PYRO:pyro-ts\.NameServer@127\.0\.0\.1:(\d+))\n/);
  return { proc, uri: match[1]!, port: Number(match[2]), ns: `127.0.0.1:${match[2]}` };
}

/** `pyro-ts nameserver ...args`: either it starts (prints its URI) or it exits first. */
export async function startOrExit(args: string[]): Promise<{ proc: Proc; exit?: Exit }> {
  const proc = spawnNode(CLI, ["nameserver", ...args]);
  const started = await proc.waitFor(/^nameserver running at /, 8000).then(
    () => true,
    () => false,
  );
  return started ? { proc } : { proc, exit: await within(proc.exit, 2000, `${proc.label} to exit`) };
}

/** A proxy to the nameserver from the test process, closed after the test. */
export async function nsProxy(ns: string): Promise<Remote<NameServer>> {
  const proxy = await locateNs({ ns, timeout: 5000 });
  closers.push(() => proxy.$close());
  return proxy;
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** The one line a command prints on an error: `pyro-ts: ...`, no stack. */
export function expectOneLineError(result: Result, text: string | RegExp): void {
  expect(result.stderr).not.toMatch(STACK);
  expect(result.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  if (typeof text === "string") expect(result.stderr).toBe(`pyro-ts: ${text}\n`);
  else expect(result.stderr).toMatch(text);
}

/** A nameserver with examples/laser/server.js serving lab.laser. */
export async function laserSetup(): Promise<{ ns: RunningNs; server: Proc; laserUri: string }> {
  const ns = await nameserver();
  const server = spawnNode(LASER_SERVER, ["--ns", ns.ns]);
  const match = await server.waitFor(/^lab\.laser served at (PYRO:lab\.laser@127\.0\.0\.1:\d+)/);
  return { ns, server, laserUri: match[1]! };
}
