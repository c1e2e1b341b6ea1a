import { describe, expect, it } from "vitest";
import { connect, expose, Signal, UnknownMemberError, type SignalGap } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { forEachTransport } from "./helpers.js";

@expose
class Scope {
  readonly trace = new Signal<[samples: Float64Array, raw: Buffer, meta: Map<string, Date>]>();
  readonly tick = new Signal<[n: number]>();
  notASignal = 1;
}

forEachTransport((use) => {
  async function served<T extends object>(target: T, options = {}) {
    const daemon = await use.daemon(options);
    return { daemon, uri: daemon.register(target) };
  }

  describe("remote signals", () => {
    it("delivers emissions to a connected slot once connect() resolved, and stops after off()", async () => {
      const laser = new Laser();
      const { uri } = await served(laser);
      const proxy = await use.connect<Laser>(uri);
      const received: number[] = [];
      expect(laser.powerChanged.listenerCount).toBe(0);
      const off = await proxy.powerChanged.connect((mw) => {
        received.push(mw);
      });
      expect(laser.powerChanged.listenerCount).toBe(1); // hooked while someone listens
      await proxy.setPower(3);
      laser.powerChanged.emit(4);
      await expect.poll(() => received).toEqual([3, 4]);
      await off();
      expect(laser.powerChanged.listenerCount).toBe(0); // unhooked when nobody listens
      await proxy.setPower(5);
      await proxy.echo("round trip after the emission");
      expect(received).toEqual([3, 4]);
    });

    it("delivers 10,000 emissions to one subscriber complete and in order", async () => {
      const laser = new Laser();
      const { uri } = await served(laser);
      const proxy = await use.connect<Laser>(uri);
      const received: number[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      await proxy.powerChanged.connect((mw) => {
        received.push(mw);
        if (received.length === 10_000) done();
      });
      for (let i = 0; i < 10_000; i++) laser.powerChanged.emit(i);
      await all;
      expect(received).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
      expect(proxy.powerChanged.dropped).toBe(0);
    });

    it("carries binary arguments and superjson values", async () => {
      const scope = new Scope();
      const { uri } = await served(scope);
      const proxy = await use.connect<Scope>(uri);
      const next = proxy.trace.once();
      // once() subscribes first: emit when the daemon has hooked the signal.
      await expect.poll(() => scope.trace.listenerCount).toBe(1);
      const samples = new Float64Array([1.5, -2.25, Math.PI]);
      const raw = Buffer.from("raw bytes");
      const meta = new Map([["at", new Date(1234)]]);
      scope.trace.emit(samples, raw, meta);
      const [s, r, m] = await next;
      expect(s).toBeInstanceOf(Float64Array);
      expect([...s]).toEqual([...samples]);
      expect(Buffer.isBuffer(r)).toBe(true);
      expect(r.toString()).toBe("raw bytes");
      expect(m.get("at")).toEqual(new Date(1234));
      await expect.poll(() => scope.trace.listenerCount).toBe(0); // once() disconnected itself
    });

    it("keeps one remote subscription for many slots and proxies of one connection", async () => {
      const scope = new Scope();
      const { uri } = await served(scope);
      const a = await use.connect<Scope>(uri);
      const b = await use.connect<Scope>(uri);
      const seen: string[] = [];
      const slotA1 = (n: number): void => void seen.push(`a1:${n}`);
      const slotA2 = (n: number): void => void seen.push(`a2:${n}`);
      await a.tick.connect(slotA1);
      await a.tick.connect(slotA2);
      await b.tick.connect((n) => void seen.push(`b:${n}`));
      expect(scope.tick.listenerCount).toBe(1);
      scope.tick.emit(1);
      await expect.poll(() => seen.length).toBe(3);
      expect(seen).toEqual(["a1:1", "a2:1", "b:1"]);
      expect(await a.tick.disconnect(slotA1)).toBe(true);
      expect(await a.tick.disconnect(slotA1)).toBe(false);
      await a.$close(); // disconnects a's remaining slot; b still listens
      expect(scope.tick.listenerCount).toBe(1);
      scope.tick.emit(2);
      await expect.poll(() => seen.at(-1)).toBe("b:2");
      expect(seen.filter((s) => s.endsWith(":2"))).toEqual(["b:2"]);
    });

    it("gives each connection its own subscription", async () => {
      const scope = new Scope();
      const { uri } = await served(scope);
      const a = await use.connect<Scope>(uri);
      const b = await use.connect<Scope>(uri, { maxMessageSize: 1 << 20 }); // a second connection
      const gotA: number[] = [];
      const gotB: number[] = [];
      await a.tick.connect((n) => void gotA.push(n));
      const offB = await b.tick.connect((n) => void gotB.push(n));
      expect(scope.tick.listenerCount).toBe(1); // one hook, two subscribers
      scope.tick.emit(7);
      await expect.poll(() => [gotA, gotB]).toEqual([[7], [7]]);
      await offB();
      scope.tick.emit(8);
      await expect.poll(() => gotA).toEqual([7, 8]);
      expect(gotB).toEqual([7]);
    });

    it("reports a slot that throws without stopping the other slots", async () => {
      const scope = new Scope();
      const { uri } = await served(scope);
      const proxy = await use.connect<Scope>(uri);
      const warning = new Promise<Error>((resolve) => process.once("warning", resolve));
      const good: number[] = [];
      await proxy.tick.connect(() => {
        throw new Error("slot failed");
      });
      await proxy.tick.connect((n) => void good.push(n));
      scope.tick.emit(1);
      await expect.poll(() => good).toEqual([1]);
      expect((await warning).message).toContain("slot failed");
    });

    it("rejects connecting to something that is not an exposed signal", async () => {
      const scope = new Scope();
      const { uri } = await served(scope);
      const proxy = await use.connect<Scope>(uri);
      expect(() => (proxy as unknown as Record<string, unknown>).nope).toThrow(UnknownMemberError);
      expect((await proxy.$meta()).signals).toEqual(["tick", "trace"]);
    });

    it("re-subscribes after the daemon comes back and reports the gap", async () => {
      const first = await use.daemon();
      first.register(new Scope(), "scope");
      const { port } = first.location as { port: number };
      const proxy = await connect<Scope>(first.uriFor("scope"), { timeout: 5000 });
      use.onCleanup(() => proxy.$close());
      const ticks: number[] = [];
      const gaps: SignalGap[] = [];
      await proxy.tick.connect((n) => void ticks.push(n));
      proxy.tick.missed.connect((gap) => void gaps.push(gap));
      await first.close();
      const second = await use.daemon({ port });
      const scope = new Scope();
      second.register(scope, "scope");
      await expect.poll(() => scope.tick.listenerCount, { timeout: 5000 }).toBe(1);
      // Reported once the renewal is confirmed, a moment after the daemon hooked the signal.
      await expect.poll(() => gaps).toEqual([{ reason: "reconnect" }]);
      scope.tick.emit(9);
      await expect.poll(() => ticks).toEqual([9]);
    });
  });
});
