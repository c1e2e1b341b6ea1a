/**
 * Issue 13 part 4: a call timeout of 0 or Infinity means none (Pyro's default); ours stays
 * 30 s. Other durations (locateTimeout, wait) keep their checks. A timer armed with Infinity
 * would fire at once (with a TimeoutOverflowWarning), so calls that outlast a short timeout
 * and the absence of warnings show that none is armed.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { connect, DEFAULT_TIMEOUT, locateNs, lookup, startNameServer, TimeoutError, type Remote } from "../src/index.js";
import { connect as connectFollowing } from "../src/proxy/connect.js";
import { Laser } from "./fixtures/laser.js";
import { processWarnings, resources } from "./helpers.js";

const use = resources();

const warnings = processWarnings();

/** Closed after the test, whatever happened. */
function closeLater<T>(proxy: Remote<T>): Remote<T> {
  use.onCleanup(() => proxy.$close());
  return proxy;
}

describe("no call timeout", () => {
  for (const none of [0, Infinity]) {
    it(`$timeout = ${none} lets a call run past the timeout it had`, async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()), { timeout: 100 });
      await expect(proxy.sleep(400)).rejects.toThrow(TimeoutError);
      proxy.$timeout = none;
      expect(proxy.$timeout).toBe(Infinity);
      expect(await proxy.sleep(400)).toBe(400);
      expect(await proxy.power).toBe(0);
      await proxy.$set("power", 3);
      expect(await proxy.power).toBe(3);
      // And back to a finite one.
      proxy.$timeout = 100;
      await expect(proxy.sleep(400)).rejects.toThrow(TimeoutError);
      expect(warnings).toEqual([]);
    });

    it(`connect(uri, { timeout: ${none} }) has no timeout`, async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()), { timeout: none });
      expect(proxy.$timeout).toBe(Infinity);
      expect(await proxy.sleep(300)).toBe(300);
      expect(warnings).toEqual([]);
    });
  }

  it("keeps 30 s as the default", async () => {
    const daemon = await use.daemon();
    const proxy = await use.connect<Laser>(daemon.register(new Laser()));
    expect(DEFAULT_TIMEOUT).toBe(30_000);
    expect(proxy.$timeout).toBe(30_000);
  });

  it("lookup and locateNs accept timeout 0: the nameserver's proxy and the object's have none", async () => {
    const ns = await startNameServer({ port: 0, broadcast: false });
    use.onCleanup(() => ns.close());
    const daemon = await use.daemon();
    const uri = daemon.register(new Laser());
    const address = ns.uri.slice(ns.uri.indexOf("@") + 1);
    const nsProxy = closeLater(await locateNs({ ns: address, timeout: 0 }));
    expect(nsProxy.$timeout).toBe(Infinity);
    await nsProxy.register("test.timeouts.laser", uri);
    const laser = closeLater(await lookup<Laser>("test.timeouts.laser", { ns: address, timeout: 0 }));
    expect(laser.$timeout).toBe(Infinity);
    expect(await laser.sleep(200)).toBe(200);
    expect(warnings).toEqual([]);
  });

  it("a following proxy without timeout waits for its object to turn up elsewhere", async () => {
    const first = await use.daemon();
    let where = first.register(new Laser(), "laser");
    const proxy = closeLater(await connectFollowing<Laser>(where, { timeout: 0 }, async () => where));
    expect(await proxy.echo(1)).toBe(1);
    const lost = new Promise<void>((resolve) => proxy.$connectionChanged.once().then(() => resolve()));
    await first.close();
    await lost;
    // The call waits on the lost connection, with no deadline...
    const waiting = proxy.echo(2);
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    // ...until the proxy finds its object again (asked again at most once a second).
    const second = await use.daemon();
    where = second.register(new Laser(), "laser");
    expect(await waiting).toBe(2);
    expect(proxy.$uri).toBe(where);
    expect(warnings).toEqual([]);
  });

  it("$close() of a proxy without timeout stays bounded when its daemon is gone", async () => {
    const daemon = await use.daemon();
    const proxy = await connect<Laser>(daemon.register(new Laser()), { timeout: 0 });
    use.onCleanup(() => proxy.$close());
    await proxy.powerChanged.connect(() => {});
    await daemon.close();
    const started = Date.now();
    await proxy.$close();
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe("timeouts refused", () => {
  it("a call timeout that is negative, NaN, -Infinity, too long for a timer or not a number", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Laser());
    const proxy = await use.connect<Laser>(uri);
    for (const bad of [-1, Number.NaN, -Infinity, 2 ** 31, "5", null]) {
      expect(() => {
        (proxy as { $timeout: unknown }).$timeout = bad;
      }).toThrow(RangeError);
      // (null, like undefined, asks connect() for the default.)
      if (bad !== null) await expect(connect(uri, { timeout: bad as number })).rejects.toThrow(RangeError);
    }
    expect(proxy.$timeout).toBe(DEFAULT_TIMEOUT);
  });

  it("other durations still need a finite number of ms", async () => {
    await expect(locateNs({ ns: "127.0.0.1:1", locateTimeout: 0 })).rejects.toThrow(RangeError);
    await expect(locateNs({ ns: "127.0.0.1:1", locateTimeout: Infinity })).rejects.toThrow(RangeError);
  });
});
