/**
 * Closing a daemon or a proxy while calls are in flight prints nothing: no process warning,
 * nothing through the daemon's onError. What could not finish reaches its caller as a typed error.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CommunicationError, ConnectionClosedError, Daemon, DaemonError } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { processWarnings, resources } from "./helpers.js";

const use = resources();

const warnings = processWarnings();

/** How a promise settled, without letting a rejection go unhandled meanwhile. */
function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then((value) => ({ value }), (error: unknown) => ({ error }));
}

describe("closing a daemon while calls are in flight", () => {
  for (const reporting of ["onError", "process warnings"] as const) {
    it(`reports nothing (${reporting}) when a call outlives closeTimeout, and fails that call with DaemonError`, async () => {
      const reported: string[] = [];
      const daemon = new Daemon({
        host: "127.0.0.1",
        port: 0,
        closeTimeout: 100,
        ...(reporting === "onError" && { onError: (error: unknown, context: string) => reported.push(`${context}: ${String(error)}`) }),
      });
      use.onCleanup(() => daemon.close());
      await daemon.start();
      const laser = await use.connect<Laser>(daemon.register(new Laser()), { timeout: 5000 });
      expect(await laser.echo("up")).toBe("up");

      const slow = outcome(laser.sleep(600));
      const quick = outcome(laser.sleep(20));
      await sleep(50); // both are running in the daemon
      const started = Date.now();
      await daemon.close();
      expect(Date.now() - started).toBeLessThan(3000);

      expect(await quick).toEqual({ value: 20 });
      const failed = await slow;
      expect("error" in failed && failed.error).toBeInstanceOf(DaemonError);
      expect(String("error" in failed && (failed.error as Error).message)).toMatch(/closed/);
      // The slow method ends after the socket is closed: its reply must go nowhere, quietly.
      await sleep(700);
      expect(reported).toEqual([]);
      expect(warnings).toEqual([]);
    });
  }

  it("fails calls arriving during close() with DaemonError and reports nothing", async () => {
    const reported: string[] = [];
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, onError: (error, context) => reported.push(`${context}: ${String(error)}`) });
    use.onCleanup(() => daemon.close());
    await daemon.start();
    const laser = await use.connect<Laser>(daemon.register(new Laser()), { timeout: 5000 });
    const running = outcome(laser.sleep(300));
    await sleep(50);
    const closing = daemon.close();
    const late = await outcome(laser.echo("late"));
    expect("error" in late && late.error).toBeInstanceOf(DaemonError);
    await closing;
    expect(await running).toEqual({ value: 300 });
    await sleep(100);
    expect(reported).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it("fails every call still running with DaemonError, and calls after close with a CommunicationError, quietly", async () => {
    const reported: string[] = [];
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, closeTimeout: 50, onError: (error, context) => reported.push(`${context}: ${String(error)}`) });
    use.onCleanup(() => daemon.close());
    await daemon.start();
    const laser = await use.connect<Laser>(daemon.register(new Laser()), { timeout: 500 });
    const calls = Array.from({ length: 20 }, (_, i) => outcome(laser.sleep(100 + i * 10)));
    await sleep(20);
    await daemon.close();
    for (const call of await Promise.all(calls)) expect("error" in call && call.error).toBeInstanceOf(DaemonError);
    const after = await outcome(laser.echo("after"));
    expect("error" in after && after.error).toBeInstanceOf(CommunicationError);
    await sleep(400);
    expect(reported).toEqual([]);
    expect(warnings).toEqual([]);
  });
});

describe("closing a proxy while calls are in flight", () => {
  it("rejects them with ConnectionClosedError, and neither side reports anything", async () => {
    const reported: string[] = [];
    const daemon = await use.daemon({ onError: (error, context) => reported.push(`${context}: ${String(error)}`) });
    const uri = daemon.register(new Laser());
    const laser = await use.connect<Laser>(uri, { timeout: 5000 });
    const calls = [outcome(laser.sleep(200)), outcome(laser.sleep(300)), outcome(laser.echo("x"))];
    await laser.$close();
    const results = await Promise.all(calls);
    for (const result of results) {
      if ("error" in result) expect(result.error).toBeInstanceOf(ConnectionClosedError);
    }
    expect(results.filter((r) => "error" in r).length).toBeGreaterThanOrEqual(2);
    // The daemon answers a connection that is gone: dropped without a word.
    await sleep(400);
    expect(reported).toEqual([]);
    expect(warnings).toEqual([]);
    // The daemon still serves others.
    const again = await use.connect<Laser>(uri, { timeout: 5000 });
    expect(await again.echo(1)).toBe(1);
  });
});
