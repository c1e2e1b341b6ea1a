/**
 * A RemoteStream its program lets go of without reading it to the end or closing it: once the
 * garbage collector has taken it, the daemon's generator is stopped (its finally runs, its
 * AbortSignal fires) and its stream slot is free again. Over real sockets on 127.0.0.1, once per
 * transport; collection is forced through V8's own gc().
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { RemoteStream } from "../src/index.js";
import { Streams } from "./fixtures/stream-source.js";
import { forEachTransport } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Collects until `done`, at most `rounds` times: finalizers run as tasks after a collection, not within it. */
async function collectUntil(done: () => boolean, rounds = 40): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await sleep(50);
  }
}

forEachTransport((use) => {
  describe("streams dropped without being read", () => {
    it("a stream let go of unread is stopped on the daemon once collected, and its slot is free again", async () => {
      const daemon = await use.daemon({ maxStreamsPerConnection: 3 });
      const source = new Streams();
      const proxy = await use.connect<Streams>(daemon.register(source, "streams"), { timeout: 10_000 });
      const keys = ["a", "b", "c"];
      // Opened and dropped at once: nothing in this test keeps them.
      for (const key of keys) expect(await proxy.ticks(key, 1_000_000, 5, 0)).toBeInstanceOf(RemoteStream);
      await expect.poll(() => keys.every((key) => (source.tracks.get(key)?.produced ?? 0) > 0)).toBe(true);
      await collectUntil(() => keys.every((key) => source.tracks.get(key)?.finished));
      for (const key of keys) expect(source.tracks.get(key), key).toMatchObject({ finished: true, aborted: true });
      // The three slots are free: three more streams open, and are read.
      const kept = await Promise.all(["d", "e", "f"].map((key) => proxy.ticks(key, 2, 0, 0)));
      for (const stream of kept) {
        const items: unknown[] = [];
        for await (const item of stream) items.push(item);
        expect(items).toEqual([0, 1]);
      }
    }, 20_000);

    it("a stream being read, or held, is never stopped by a collection", async () => {
      const daemon = await use.daemon();
      const source = new Streams();
      const proxy = await use.connect<Streams>(daemon.register(source, "streams"), { timeout: 10_000 });
      const held = await proxy.ticks("held", 1_000_000, 5, 0);
      let read = 0;
      for await (const item of proxy.ticks("read", 200, 1, 0)) {
        expect(item).toBe(read++);
        if (read % 50 === 0) gc();
      }
      expect(read).toBe(200);
      await collectUntil(() => false, 5);
      expect(source.tracks.get("held")).toMatchObject({ finished: false, aborted: false });
      expect([(await held.next()).value, (await held.next()).value]).toEqual([0, 1]);
      await held.close();
      await expect.poll(() => source.tracks.get("held")).toMatchObject({ finished: true, aborted: true });
    }, 20_000);
  });
});
