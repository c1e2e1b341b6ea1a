/**
 * The real Python Pyro5 (5.15, Debian's pure-Python package kept in test/peers/pyro5) for the
 * Pyro5 tests: unpacked once into a cache directory, then python3 children (a nameserver,
 * daemons, scripts from test/fixtures/pyro5/) on loopback. Every child is killed on stop(),
 * after its timeout, and when the test process exits; every wait is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

// Tests may also run compiled from dist/test/.
const ROOT = fileURLToPath(new URL(import.meta.url.includes("/dist/test/") ? "../.." : "..", import.meta.url));
/** The Debian packages kept in the repository (test/peers/pyro5/README.md), so a clean clone has them. */
const UNPACK = join(ROOT, "test", "peers", "pyro5", "unpack");
export const PYRO5_FIXTURES = join(ROOT, "test", "fixtures", "pyro5");
/** Unpacked once per machine (the .deb files do not change); an unpack is never seen half done. */
const CACHE = join(tmpdir(), "pyro-ts-pyro5-5.15");
const SITE_PACKAGES = join(CACHE, "usr", "lib", "python3", "dist-packages");
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Under CI a missing prerequisite is a failure: use in describe.skipIf + a failing test. */
export const mustRunPyro5 = Boolean(process.env.CI);

let availability: { reason: string | undefined } | undefined;

/** Why Pyro5 cannot run here (no python3, no dpkg-deb), or undefined when it can. Unpacks it on first use. */
export function pyro5Unavailable(): string | undefined {
  availability ??= { reason: checkAndUnpack() };
  return availability.reason;
}

function checkAndUnpack(): string | undefined {
  const python = spawnSync("python3", ["-c", "import sys; assert sys.version_info >= (3, 8)"], { stdio: "ignore", timeout: 10_000 });
  if (python.error || python.status !== 0) return "python3 (3.8 or later) is not installed";
  if (!existsSync(join(CACHE, ".unpacked"))) {
    if (!existsSync(UNPACK)) return `the Pyro5 package is missing: ${UNPACK} not found`;
    if (spawnSync("dpkg-deb", ["--version"], { stdio: "ignore", timeout: 10_000 }).status !== 0) return "dpkg-deb is not installed (needed to unpack Pyro5's Debian package)";
    // Unpacked beside the cache and renamed into place: parallel test files never see half a package.
    const staging = mkdtempSync(`${CACHE}.staging-`);
    try {
      const unpack = spawnSync(UNPACK, [staging], { encoding: "utf8", timeout: 60_000 });
      if (unpack.status !== 0) return `unpacking Pyro5 failed: ${unpack.stderr || unpack.error?.message}`;
      if (existsSync(CACHE) && !existsSync(join(CACHE, ".unpacked"))) rmSync(CACHE, { recursive: true, force: true });
      try {
        renameSync(staging, CACHE);
      } catch {
        // Another test process was first: its copy is as good.
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const probe = spawnSync("python3", ["-c", "import Pyro5.api, serpent"], { env: pyro5Env(), encoding: "utf8", timeout: 20_000 });
  if (probe.status !== 0) return `python3 cannot import the unpacked Pyro5: ${probe.stderr || probe.error?.message}`;
  return undefined;
}

/**
 * The env for python3 children: PYTHONPATH of the unpacked Pyro5. Every inherited PYRO_* variable
 * is dropped (pyro-ts's own PYRO_TS_* among them): Pyro5's config refuses unknown ones at import.
 */
export function pyro5Env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("PYRO_")) env[key] = value;
  return { ...env, PYTHONPATH: SITE_PACKAGES, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", PYTHONIOENCODING: "utf-8", ...extra };
}

/** Every python3 child alive, killed if the test process exits without stopping it. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function spawnPython(args: string[], env?: Record<string, string>): ChildProcess {
  const child = spawn("python3", args, { env: pyro5Env(env), stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.once("error", () => children.delete(child));
  return child;
}

/** Kills `child` (SIGTERM, then SIGKILL) and waits, bounded, until it is gone. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const forced = setTimeout(() => child.kill("SIGKILL"), 1000);
  const bounded = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
  await Promise.race([exited, bounded]);
  clearTimeout(forced);
}

function scriptPath(script: string): string {
  return isAbsolute(script) ? script : join(PYRO5_FIXTURES, script);
}

/**
 * Starts a long-running python3 process and resolves with the first match of `ready` in its
 * stdout (group 1) once it prints it; stop() kills it. Rejects (and kills it) when it exits
 * first or prints no such line within the start timeout.
 */
function startUntil(args: string[], env: Record<string, string> | undefined, what: string, ready: RegExp): Promise<{ ready: string; stop(): Promise<void> }> {
  const child = spawnPython(args, env);
  child.stdin!.end();
  let output = "";
  let stdout = "";
  let settled = false;
  return new Promise((resolve, reject) => {
    const fail = (problem: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stopChild(child).then(() => reject(new Error(`${what} ${problem}; its output:\n${output.slice(-4000)}`)));
    };
    const timer = setTimeout(() => fail(`was not ready within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    // The last output only, for error messages: a daemon may print for as long as it runs.
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8000));
    child.stderr!.on("data", keep);
    child.stdout!.on("data", (chunk: Buffer) => {
      keep(chunk);
      if (settled) return;
      stdout += chunk.toString();
      const match = ready.exec(stdout);
      if (match) {
        settled = true;
        clearTimeout(timer);
        resolve({ ready: match[1]!.trim(), stop: () => stopChild(child) });
      }
    });
    child.once("error", (error) => fail(`could not start: ${error.message}`));
    child.once("exit", (code, signal) => fail(`exited (code ${code}, signal ${signal}) before it was ready`));
  });
}

/** Starts a long-running python3 script (test/fixtures/pyro5/*.py) that prints "READY <something>"; resolves with the rest of that line. */
export function startPython(script: string, args: string[], env?: Record<string, string>): Promise<{ ready: string; stop(): Promise<void> }> {
  return startUntil([scriptPath(script), ...args], env, `python3 ${script}`, /^READY (.*)\r?\n/m);
}

/**
 * Starts `python3 -m Pyro5.nameserver -n 127.0.0.1 -p 0 -x` (no broadcast responder) and
 * resolves once it accepts connections. Port 0 lets the nameserver bind a free port itself
 * (no race with other tests for a port found free a moment earlier); it prints which:
 * "NS running on 127.0.0.1:PORT (127.0.0.1)".
 */
export async function startPythonNameServer(): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const host = "127.0.0.1";
  const started = await startUntil(["-m", "Pyro5.nameserver", "-n", host, "-p", "0", "-x"], undefined, "the Pyro5 nameserver", /^NS running on \S+:(\d+) .*\n/m);
  const port = Number(started.ready);
  try {
    await waitForListener(host, port, START_TIMEOUT_MS);
  } catch (error) {
    await started.stop();
    throw error;
  }
  return { host, port, stop: started.stop };
}

/** Resolves once a TCP connection to host:port succeeds; rejects after timeoutMs. */
async function waitForListener(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.setTimeout(1000, () => socket.destroy());
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("close", () => resolve(false));
      socket.once("error", () => undefined);
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts connections on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs a python3 script file (test/fixtures/pyro5/*.py) as a child with args; resolves with
 * stdout/stderr/exit code (code null when it was killed after timeoutMs). `input` goes to its stdin.
 */
export function runPython(
  script: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string>; input?: string | Buffer } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const child = spawnPython([scriptPath(script), ...args], options.env);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.on("error", () => undefined); // a script that exits early closes its stdin
  child.stdin!.end(options.input ?? "");
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeoutMs} ms]`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}\n${error.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
