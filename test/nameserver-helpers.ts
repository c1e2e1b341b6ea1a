/**
 * Helpers of the nameserver-*.test.ts files: nameservers and proxies to them closed after the
 * test, and checks of what they answer.
 *
 * Network rule: everything stays on loopback. Nameservers bind 127.0.0.1 and answer
 * discovery on a loopback address only; every client is told where the nameserver is.
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { locateNs, NamingError, startNameServer, type NameServer, type NameServerOptions, type Remote, type RunningNameServer, type TcpLocation } from "../src/index.js";
import type { Resources } from "./helpers.js";

/** Temporary folders, nameservers and proxies of a test, closed after it by `use`. */
export function nameserverHelpers(use: Resources) {
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-ns-"));
    use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A nameserver on free ports, closed after the test. */
  async function nameserver(options: NameServerOptions = {}): Promise<{ running: RunningNameServer; address: string }> {
    const running = await startNameServer({ port: 0, bcport: 0, bchost: "127.0.0.1", ...options });
    use.onCleanup(() => running.close());
    return { running, address: `127.0.0.1:${portOf(running)}` };
  }

  async function nsProxy(address: string): Promise<Remote<NameServer>> {
    const ns = await locateNs({ ns: address });
    use.onCleanup(() => ns.$close());
    return ns;
  }

  return { tempDir, nameserver, nsProxy };
}

export const portOf = (running: RunningNameServer): number => (running.daemon.location as TcpLocation).port;

/** The error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

export async function namingError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(NamingError);
  expect(error.message).toMatch(message);
}

/** Records the emissions reaching a slot; `until(n)` waits (bounded) for the n-th one. */
export function recorder<A extends unknown[]>() {
  const events: A[] = [];
  const wakeups = new Set<() => void>();
  return {
    events,
    slot: (...args: A): void => {
      events.push(args);
      for (const wake of wakeups) wake();
    },
    async until(count: number, timeoutMs = 5000): Promise<A[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} emission(s) within ${timeoutMs} ms, got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            wakeups.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          wakeups.add(wake);
        });
      }
      return events.slice(0, count);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function closedTcpPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

export const uriOf = (id: string, port = 5000): string => `PYRO:${id}@127.0.0.1:${port}`;
