import { describe, expect, it } from "vitest";
import { connect, expose, LimitExceededError, Signal } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { forEachTransport } from "./helpers.js";

// Proxies with different options get connections of their own.
const other = { maxMessageSize: 32 * 1024 * 1024 };

@expose
class TwoSignals {
  readonly a = new Signal<[n: number]>();
  readonly b = new Signal<[n: number]>();
}

forEachTransport((use) => {
  describe("daemon limits", () => {
    it("refuses calls beyond maxCallsPerConnection to that connection only", async () => {
      const daemon = await use.daemon({ maxCallsPerConnection: 2 });
      const uri = daemon.register(new Laser());
      const busy = await use.connect<Laser>(uri);
      const calm = await use.connect<Laser>(uri, other);
      const running = [busy.sleep(300), busy.sleep(300)];
      const third = await busy.sleep(10).catch((e: unknown) => e);
      expect(third).toBeInstanceOf(LimitExceededError);
      expect((third as Error).message).toMatch(/already has 2 calls in progress/);
      expect(await calm.sleep(10)).toBe(10); // another connection is not affected
      expect(await Promise.all(running)).toEqual([300, 300]);
      expect(await busy.sleep(10)).toBe(10); // and the connection works again once calls finished
    });

    it("refuses a connection beyond maxConnections", async () => {
      const daemon = await use.daemon({ maxConnections: 1 });
      const uri = daemon.register(new Laser());
      const first = await use.connect<Laser>(uri);
      expect(await first.echo(1)).toBe(1);
      await expect(connect<Laser>(uri, { ...other, timeout: 2000 })).rejects.toThrow(LimitExceededError);
      expect(await first.echo(2)).toBe(2);
    });

    it("refuses subscriptions beyond maxSubscriptionsPerConnection", async () => {
      const daemon = await use.daemon({ maxSubscriptionsPerConnection: 1 });
      const target = new TwoSignals();
      const proxy = await use.connect<TwoSignals>(daemon.register(target));
      const got: number[] = [];
      await proxy.a.connect((n) => void got.push(n));
      await expect(proxy.b.connect(() => {})).rejects.toThrow(/already holds 1 subscriptions/);
      target.a.emit(5);
      await expect.poll(() => got).toEqual([5]);
      expect(target.b.listenerCount).toBe(0);
    });

    it("checks the limits it is given", async () => {
      const { Daemon } = await import("../src/index.js");
      expect(() => new Daemon({ maxConnections: 0 })).toThrow(/maxConnections must be a positive integer/);
      expect(() => new Daemon({ maxCallsPerConnection: 1.5 })).toThrow(RangeError);
    });
  });
});
