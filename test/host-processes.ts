/**
 * For tests of nameservers that outlive their starters (autostart, --detach): a temporary
 * run directory per test, and the detached processes started with it found and killed
 * whatever happened. A detached nameserver's command line names its log file, which lies in
 * the run directory, so /proc finds every one of them, pid file or not.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NodeChild } from "./node-child.js";

const ROOT = fileURLToPath(new URL(import.meta.url.includes("/dist/test/") ? "../.." : "..", import.meta.url));
export const CLI = join(ROOT, "dist/cli/pyro-ts.js");
export const fixture = (name: string): string => join(ROOT, "dist/test/fixtures", `${name}.js`);

/** A TCP port on 127.0.0.1 that was free a moment ago (never 9090). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session. Undefined when gone. */
function stat(pid: number): { state: string; pgrp: number; session: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, pgrp: Number(fields[2]), session: Number(fields[3]) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie does not). */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

/** Process group and session of `pid`. */
export function groupOf(pid: number): { pgrp: number; session: number } | undefined {
  return stat(pid);
}

/** A plain TCP server holding `port` (no nameserver): close() drops its connections and frees the port. */
export async function squat(port: number): Promise<{ close(): Promise<void> }> {
  const connections = new Set<Socket>();
  const squatter = createServer((socket) => {
    connections.add(socket);
    socket.on("error", () => {});
  });
  squatter.listen(port, "127.0.0.1");
  await once(squatter, "listening");
  return {
    async close() {
      // close() waits for open connections, and proxies that gave up may still hold some.
      for (const socket of connections) socket.destroy();
      await new Promise((resolve) => squatter.close(resolve));
    },
  };
}

/** Polls `probe` every 50 ms until it returns a value (a rejection counts as none yet); fails after `timeoutMs`. */
export async function pollFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits (bounded) until `check` holds; false if it never did. */
export async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** A run directory for one test, and the detached processes started with it. */
export class RunDir {
  readonly path = mkdtempSync(join(tmpdir(), "pyro-ts-run-"));
  readonly #children: NodeChild[] = [];

  /** The environment of the test's children: this run directory, nothing of the developer's. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PYRO_TS_NS;
    delete env.PYRO_TS_CONFIG;
    delete env.PYRO_TS_NS_AUTOSTART;
    return { ...env, PYRO_TS_RUN_DIR: this.path, PYRO_TS_BROADCAST: "127.255.255.255", ...extra };
  }

  /** Starts `node script ...args` in this run directory's environment; killed after the test. */
  spawn(name: string, script: string, args: readonly string[], extraEnv: Record<string, string> = {}): NodeChild {
    const child = new NodeChild(name, script, args, { cwd: this.path, env: this.env(extraEnv) });
    this.#children.push(child);
    return child;
  }

  /** Runs `pyro-ts ...args` to its end (bounded). */
  async cli(args: readonly string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const child = this.spawn(`pyro-ts ${args.join(" ")}`, CLI, args, options.env);
    child.process.stdin!.end();
    const exit = await child.expectExit(timeoutMs);
    return { code: exit.code, stdout: child.lines.join("\n"), stderr: child.stderr };
  }

  /** Detached nameservers of this run directory that still run (found by their command line). */
  nameservers(): number[] {
    const found: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (cmdline.includes(this.path) && cmdline.includes("\0nameserver\0") && alive(pid)) found.push(pid);
      } catch {
        // Ended while we looked.
      }
    }
    return found;
  }

  /**
   * Kills everything: the test's children first (a live program that keeps names could start
   * the nameserver again), then each detached nameserver with its process group; removes the
   * directory. Bounded; never throws.
   */
  async cleanup(): Promise<void> {
    for (const child of this.#children.splice(0)) await child.kill("SIGKILL").catch(() => {});
    for (let round = 0; round < 3; round++) {
      const pids = this.nameservers();
      if (pids.length === 0) break;
      for (const pid of pids) {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, "SIGKILL");
          } catch {
            // Not a group leader, or gone.
          }
        }
      }
      await until(() => pids.every((pid) => !alive(pid)), 3000);
    }
    rmSync(this.path, { recursive: true, force: true });
  }
}
