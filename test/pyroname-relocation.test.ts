/**
 * Proxies that follow their name (issue 11) and `$connectionChanged`: daemons and nameservers
 * in child processes, SIGKILLed under live proxies. Real TCP on 127.0.0.1, free ports. The
 * children run the compiled fixtures in dist/test/fixtures, so `npm run build` first.
 */
import { existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, ConnectionClosedError, lookup, parseUri, resolve, TimeoutError, type Remote, type SignalGap } from "../src/index.js";
import { connect as connectFollowing } from "../src/proxy/connect.js";
import type { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";
import { NodeChild } from "./node-child.js";

const use = resources();

const FIXTURES = ["relocation-nameserver", "relocation-daemon"] as const;
type Fixture = (typeof FIXTURES)[number];
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const scriptOf = (name: Fixture): string => fileURLToPath(new URL(`../dist/test/fixtures/${name}.js`, import.meta.url));
const NAME = "test.laser";

const children: NodeChild[] = [];

function start(name: Fixture, args: readonly string[]): NodeChild {
  const child = new NodeChild(name, scriptOf(name), args, { cwd: ROOT });
  children.push(child);
  return child;
}

function tcpPort(uri: string): number {
  const location = parseUri(uri).location;
  if (location?.transport !== "tcp") throw new Error(`not a TCP URI: ${uri}`);
  return location.port;
}

/** A nameserver in a child process on a free port; `address` is its host:port. */
async function startNs(): Promise<{ child: NodeChild; address: string }> {
  const child = start("relocation-nameserver", ["0"]);
  const uri = await child.line(0, 10_000);
  return { child, address: `127.0.0.1:${tcpPort(uri)}` };
}

/** The Laser daemon in a child process, its object registered as NAME in each nameserver given. */
async function startDaemon(port: number, ns: readonly string[]): Promise<{ child: NodeChild; uri: string; port: number }> {
  const child = start("relocation-daemon", [String(port), NAME, ns.join(",")]);
  const uri = await child.line(0, 10_000);
  expect(uri).toMatch(/^PYRO:laser@127\.0\.0\.1:\d+$/);
  return { child, uri, port: tcpPort(uri) };
}

/** A port nothing listens on now (asked while the daemon to replace still holds its own). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

async function kill(child: NodeChild): Promise<void> {
  child.signal("SIGKILL");
  await child.expectExit(5000);
}

/** Closed after the test, whatever happened. */
function closeLater<T>(proxy: Remote<T>): Remote<T> {
  use.onCleanup(() => proxy.$close());
  return proxy;
}

function connectionStates<T>(proxy: Remote<T>): boolean[] {
  const states: boolean[] = [];
  proxy.$connectionChanged.connect((connected) => void states.push(connected));
  return states;
}

/** Polls `done` every 20 ms for at most `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const HANG = Symbol("hang");

interface Outcome {
  readonly ok: boolean;
  readonly error?: unknown;
  /** The proxy's URI when the call settled. */
  readonly uri: string;
  readonly ms: number;
}

/** `workers` loops calling `echo` until stopped; a call not settled within `hangMs` is recorded as HANG. */
function callInLoop(proxy: Remote<Laser>, workers: number, hangMs: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const one = async (): Promise<void> => {
    for (let i = 0; running; i++) {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<typeof HANG>((done) => (timer = setTimeout(() => done(HANG), hangMs)));
      const result = await Promise.race([proxy.echo(i).then((value) => ({ value }), (error: unknown) => ({ error })), hang]);
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (result === HANG) outcomes.push({ ok: false, error: HANG, uri: proxy.$uri, ms });
      else if ("error" in result) outcomes.push({ ok: false, error: result.error, uri: proxy.$uri, ms });
      else outcomes.push({ ok: result.value === i, uri: proxy.$uri, ms });
      if (result === HANG || "error" in result) await sleep(10);
    }
  };
  const all = Promise.all(Array.from({ length: workers }, one));
  return {
    outcomes,
    successes: (from = 0) => outcomes.slice(from).filter((o) => o.ok).length,
    stop: async () => {
      running = false;
      await all;
    },
  };
}

afterEach(async () => {
  // Every child ends with its test, killed if need be (stopped ones too), and is waited for.
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

describe("a PYRONAME proxy follows its name", () => {
  it("(a) to a new daemon on another port: calls go on with no user code, $uri, slots and $connectionChanged follow", async () => {
    const ns = await startNs();
    const first = await startDaemon(0, [ns.address]);
    const laser = closeLater(await lookup<Laser>(NAME, { ns: ns.address, timeout: 4000, locateTimeout: 1000 }));
    expect(laser.$uri).toBe(first.uri);
    const states = connectionStates(laser);
    const powers: number[] = [];
    const gaps: SignalGap[] = [];
    await laser.powerChanged.connect((mw) => void powers.push(mw));
    laser.powerChanged.missed.connect((gap) => void gaps.push(gap));
    expect(await laser.setPower(1)).toBe(1);
    await expect.poll(() => powers).toEqual([1]);

    const port = await freePort();
    await kill(first.child);
    await expect.poll(() => states, { timeout: 3000 }).toEqual([false]);
    // The name still points at the dead daemon until the new one registers it.
    const second = await startDaemon(port, [ns.address]);
    expect(second.uri).not.toBe(first.uri);

    expect(await laser.echo("moved")).toBe("moved");
    expect(laser.$uri).toBe(second.uri);
    expect(states).toEqual([false, true]);
    expect(await laser.power).toBe(0); // the new daemon's Laser
    // Reported once the new daemon delivers the signal.
    await expect.poll(() => gaps).toEqual([{ reason: "reconnect", relocatedTo: second.uri }]);
    expect(await laser.setPower(2)).toBe(2);
    await expect.poll(() => powers).toEqual([1, 2]);
  });

  it("(b) with ns: [A, B], keeps calling while nameserver A is killed, then follows the daemon through B", async () => {
    const a = await startNs();
    const b = await startNs();
    const first = await startDaemon(0, [a.address, b.address]);
    const timeout = 1000;
    const laser = closeLater(await lookup<Laser>(NAME, { ns: [a.address, b.address], timeout, locateTimeout: 800 }));
    const states = connectionStates(laser);
    const workers = 2;
    const loop = callInLoop(laser, workers, timeout + 1500);
    try {
      await until(() => loop.successes() >= 20, 5000, "calls before the kill");
      const nsKilledAt = loop.outcomes.length;
      await kill(a.child);
      await until(() => loop.successes(nsKilledAt) >= 50, 5000, "calls after nameserver A died");
      // Nameserver A plays no part in calls to the daemon: none failed.
      expect(loop.outcomes.slice(nsKilledAt).filter((o) => !o.ok)).toEqual([]);

      const port = await freePort();
      const movedAt = loop.outcomes.length;
      await kill(first.child);
      // Meanwhile the name points at the dead daemon: calls wait, and time out.
      await sleep(timeout + 500);
      const second = await startDaemon(port, [b.address]); // A is gone: B alone knows the new place
      await until(() => loop.outcomes.slice(movedAt).some((o) => o.ok && o.uri === second.uri), 10_000, "a call answered by the new daemon");
      const resumedAt = loop.outcomes.length;
      await until(() => loop.successes(resumedAt) >= 20, 5000, "calls after the move");
      expect(laser.$uri).toBe(second.uri);

      const failures = loop.outcomes.slice(movedAt).filter((o) => !o.ok);
      const describe = failures.map((o) => (o.error instanceof Error ? `${o.error.name}: ${o.error.message}` : String(o.error)));
      for (const failure of failures) {
        expect(failure.error instanceof ConnectionClosedError || failure.error instanceof TimeoutError, describe.join("\n")).toBe(true);
      }
      // Only the calls in flight at the kill fail for the loss itself; the others waited, and timed out.
      expect(failures.filter((o) => o.error instanceof ConnectionClosedError).length, describe.join("\n")).toBeLessThanOrEqual(workers);
      expect(failures.some((o) => o.error instanceof TimeoutError), describe.join("\n")).toBe(true);
      expect(loop.outcomes.every((o) => o.ms <= timeout + 500), "a call outlived its timeout").toBe(true);
      expect(states).toEqual([false, true]);
    } finally {
      await loop.stop();
    }
  });

  it("(c) $close() during a relocation rejects the waiting call and leaves nothing running", async () => {
    const ns = await startNs();
    const first = await startDaemon(0, [ns.address]);
    let asked = 0;
    let answered = 0;
    const relocate = async (): Promise<string> => {
      asked++;
      try {
        return await resolve(`PYRONAME:${NAME}`, { ns: ns.address, timeout: 1500, locateTimeout: 1500 });
      } finally {
        answered++;
      }
    };
    const laser = closeLater(await connectFollowing<Laser>(first.uri, { timeout: 4000 }, relocate));
    const states = connectionStates(laser);
    expect(await laser.echo(1)).toBe(1);

    // A stopped nameserver accepts TCP but never answers: the relocation lasts its full locateTimeout.
    ns.child.signal("SIGSTOP");
    await kill(first.child);
    await expect.poll(() => asked, { timeout: 3000 }).toBe(1);
    const waiting = laser.echo(2).then(() => "answered", (error: unknown) => error);
    await sleep(100);
    expect(answered).toBe(0);

    const closing = Date.now();
    await laser.$close();
    expect(Date.now() - closing).toBeLessThan(4500);
    expect(answered).toBe(asked); // the attempt under way ended before $close() returned
    expect(await waiting).toBeInstanceOf(ConnectionClosedError);
    await expect(laser.echo(3)).rejects.toThrow(ConnectionClosedError);

    await sleep(1500); // longer than the retry interval: nothing asks again
    expect(asked).toBe(1);
    expect(states).toEqual([false]);
    ns.child.signal("SIGCONT");
  });
});

describe("$connectionChanged", () => {
  it("(d) on a PYRO proxy: false when its daemon dies, true when it is back on the same port", async () => {
    const first = await startDaemon(0, []);
    const laser = closeLater(await connect<Laser>(first.uri, { timeout: 5000 }));
    const states = connectionStates(laser);
    expect(await laser.echo(1)).toBe(1);

    await kill(first.child);
    await expect.poll(() => states, { timeout: 3000 }).toEqual([false]);
    const second = await startDaemon(first.port, []);
    expect(second.uri).toBe(first.uri);
    await expect.poll(() => states, { timeout: 5000 }).toEqual([false, true]);
    expect(await laser.echo(2)).toBe(2);
    expect(laser.$uri).toBe(first.uri);
  });
});
