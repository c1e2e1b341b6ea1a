/** The fuzz test's checks besides the replies (fuzz.test.ts): well-behaved clients, memory, prototype pollution, sockets, warnings. */
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, vi } from "vitest";
import { prototypeSnapshot } from "../seeded.js";

const PROTOTYPES_BEFORE = prototypeSnapshot();

export function expectNoPollution(where: string): void {
  expect(({} as Record<string, unknown>).polluted, `Object.prototype polluted ${where}`).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted, `Array.prototype polluted ${where}`).toBeUndefined();
  expect(prototypeSnapshot(), `built-in prototypes changed ${where}`).toEqual(PROTOTYPES_BEFORE);
}

/** A full GC, exposed at runtime (vitest does not start workers with --expose-gc). */
export const fullGc: (() => void) | undefined = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === "function") return existing;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
})();

export function heapUsed(): number {
  fullGc?.();
  return process.memoryUsage().heapUsed;
}

export const MB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** TCP sockets this process holds to or from `port` (Linux only; undefined elsewhere). */
function openTcpSockets(port: number): string[] | undefined {
  if (!existsSync("/proc/net/tcp") || !existsSync("/proc/self/fd")) return undefined;
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const found: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const [local, remote, state, inode] = [cols[1]!, cols[2]!, cols[3]!, cols[9]!];
      const localPort = parseInt(local.split(":")[1]!, 16);
      const remotePort = parseInt(remote.split(":")[1]!, 16);
      if (inodes.has(inode) && (localPort === port || remotePort === port)) found.push(`${local} -> ${remote} state ${state}`);
    }
  }
  return found;
}

export async function expectNoSocketsTo(port: number, where: string): Promise<void> {
  const deadline = Date.now() + 3000;
  let open = openTcpSockets(port);
  while (open && open.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    open = openTcpSockets(port);
  }
  expect(open ?? [], `sockets left open to or from port ${port} ${where}`).toEqual([]);
}

/**
 * Counts process warnings of the given types instead of printing them (thousands of
 * PyroDaemonWarning for failed oneway calls; TimeoutOverflowWarning when a fuzzed
 * `sleep(2**53)` reaches setTimeout, which then waits 1 ms). Returns the restore function.
 */
export function countWarnings(types: readonly string[], counts: Map<string, number>): () => void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const spy = vi.spyOn(process, "emitWarning").mockImplementation(((warning: string | Error, typeOrOptions?: unknown, ...rest: unknown[]) => {
    const type = typeof typeOrOptions === "string" ? typeOrOptions : ((typeOrOptions as { type?: string } | undefined)?.type ?? (warning instanceof Error ? warning.name : undefined));
    if (type !== undefined && types.includes(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
    else emitWarning(warning, typeOrOptions, ...rest);
  }) as typeof process.emitWarning);
  return () => spy.mockRestore();
}

/** Runs `check` again and again until stopped; returns how many passed, or throws the first failure. */
export function healthLoop(check: (n: number) => Promise<void>): { failure: () => unknown; stop: () => Promise<{ passed: number; slowestMs: number }> } {
  let stopped = false;
  let passed = 0;
  let slowestMs = 0;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await check(passed + 1);
      slowestMs = Math.max(slowestMs, Date.now() - started);
      passed++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  // Surfaced at checkpoints and at stop(); keep it from being reported as unhandled before.
  loop.catch((error: unknown) => (failure = error));
  return {
    failure: () => failure,
    stop: async () => {
      stopped = true;
      await loop;
      return { passed, slowestMs };
    },
  };
}
