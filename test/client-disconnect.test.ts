/**
 * Issue 13 part 5: `daemon.clientDisconnected` and session instances disposed when their client
 * goes away. The client that dies is a real child process, SIGKILLed: the daemon notices by its
 * silence (heartbeatTimeout, kept short here). The child runs the compiled fixture in
 * dist/test/fixtures, so `npm run build` first.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { behavior, callContext, Daemon, expose, type DaemonOptions } from "../src/index.js";
import { disposals, Instrument } from "./fixtures/session-instrument.js";
import { resources } from "./helpers.js";
import { NodeChild } from "./node-child.js";

const use = resources();

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLIENT = fileURLToPath(new URL("../dist/test/fixtures/session-client.js", import.meta.url));
/** Short, so a killed client is noticed within a second. */
const HEARTBEAT = { heartbeatInterval: 100, heartbeatTimeout: 500 } as const;

const children: NodeChild[] = [];

beforeAll(() => {
  if (!existsSync(CLIENT)) throw new Error(`${CLIENT} is missing: run \`npm run build\` before these tests`);
});
beforeEach(() => {
  disposals.length = 0;
});
afterEach(async () => {
  const all = children.splice(0);
  for (const child of all) child.signal("SIGKILL");
  for (const child of all) {
    if (!(await child.exited(5000))) throw new Error(`${child.name} (pid ${child.process.pid}) survived SIGKILL for 5 s`);
  }
});

/** A started daemon closed after the test, whatever happened. */
async function daemonWith(options: DaemonOptions): Promise<Daemon> {
  const daemon = new Daemon({ host: "127.0.0.1", port: 0, ...HEARTBEAT, ...options });
  use.onCleanup(() => daemon.close());
  await daemon.start();
  return daemon;
}

/** Records every clientDisconnected emission, in order. */
function disconnections(daemon: Daemon): string[] {
  const seen: string[] = [];
  daemon.clientDisconnected.connect((peerId) => void seen.push(peerId));
  return seen;
}

/** Polls `done` every 20 ms for at most `timeoutMs`; fails with `what` when it never holds. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe("a client that goes away", () => {
  it("SIGKILLed: its session instance is disposed once and clientDisconnected tells its identity", async () => {
    const reported: string[] = [];
    const daemon = await daemonWith({ onError: (error, context) => reported.push(`${context}: ${String(error)}`) });
    const seen = disconnections(daemon);
    const uri = daemon.register(Instrument, "instrument");

    // A client that stays: its session must outlive the other's.
    const local = await use.connect<Instrument>(uri, { timeout: 5000, ...HEARTBEAT });
    const localPeer = await local.whoami();

    const child = new NodeChild("session-client", CLIENT, [uri, String(HEARTBEAT.heartbeatInterval)], { cwd: ROOT });
    children.push(child);
    const report = JSON.parse(await child.line(0, 10_000)) as { peerId?: string; failed?: string };
    expect(report.failed).toBeUndefined();
    const childPeer = report.peerId!;
    expect(childPeer).not.toBe(localPeer);
    expect(disposals).toEqual([]);

    await child.kill("SIGKILL");
    const killedAt = Date.now();
    await until(() => disposals.length > 0, 5000, "the killed client's session was not disposed");
    // heartbeatTimeout, plus up to a sweep period and the dispose itself.
    expect(Date.now() - killedAt).toBeLessThan(2500);
    expect(seen).toEqual([childPeer]);
    expect(disposals).toEqual([{ serial: expect.any(Number), peerId: childPeer }]);

    // Nothing more happens to it, and the other client keeps its own instance.
    await sleep(3 * HEARTBEAT.heartbeatTimeout);
    expect(await local.whoami()).toBe(localPeer);
    expect(seen).toEqual([childPeer]);
    expect(disposals).toHaveLength(1);

    // Closing the daemon lets the connections still open go: told once each, disposed once each.
    await daemon.close();
    expect(seen).toEqual([childPeer, localPeer]);
    expect(disposals.map((d) => d.peerId)).toEqual([childPeer, localPeer]);
    expect(reported).toEqual([]);
  });

  it("closed: its instance's dispose() runs; a dispose that throws goes to onError and the daemon serves on", async () => {
    const reported: { error: unknown; context: string }[] = [];
    const released: string[] = [];
    @expose
    @behavior({ instanceMode: "session" })
    class Stage {
      peerId = "";
      whoami(): string {
        return (this.peerId = callContext()!.peerId);
      }
      dispose(): void {
        released.push(this.peerId);
        throw new Error("the stage would not park");
      }
    }
    const daemon = await daemonWith({ onError: (error, context) => reported.push({ error, context }) });
    const seen = disconnections(daemon);
    const uri = daemon.register(Stage);

    const going = await use.connect<Stage>(uri, { timeout: 5000, ...HEARTBEAT });
    const goingPeer = await going.whoami();
    // $close stops its heartbeats: the daemon lets it go after heartbeatTimeout.
    await going.$close();
    await until(() => reported.length > 0, 5000, "the failed dispose was not reported");
    expect(released).toEqual([goingPeer]);
    expect(seen).toEqual([goingPeer]);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.context).toMatch(/disposing an instance of Stage failed/);
    expect(String(reported[0]!.error)).toMatch(/would not park/);

    const next = await use.connect<Stage>(uri, { timeout: 5000, ...HEARTBEAT });
    expect(await next.whoami()).not.toBe(goingPeer);
    await daemon.close();
    expect(released).toHaveLength(2);
    expect(seen).toHaveLength(2);
  });

  it("close() waits (within closeTimeout) for session instances to be released", async () => {
    let releasedAt = 0;
    @expose
    @behavior({ instanceMode: "session" })
    class Slow {
      ping(): string {
        return "pong";
      }
      async [Symbol.asyncDispose](): Promise<void> {
        await sleep(200);
        releasedAt = Date.now();
      }
    }
    const daemon = await daemonWith({});
    const proxy = await use.connect<Slow>(daemon.register(Slow), { timeout: 5000, ...HEARTBEAT });
    expect(await proxy.ping()).toBe("pong");
    await daemon.close();
    expect(releasedAt).toBeGreaterThan(0);
    expect(releasedAt).toBeLessThanOrEqual(Date.now());
  });
});
