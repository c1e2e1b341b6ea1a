/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): size limits of arguments, results and errors through proxies. */
import { describe, expect, it } from "vitest";
import { CommunicationError, ConnectionClosedError, MessageTooLargeError } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { Bloat } from "./garbage/bloat.js";
import { BLOAT, DAEMON_MAX, daemonFedGarbage, LASER, MiB } from "./garbage/daemon.js";
import { decodeReply, rawCall } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    describe("size limits through proxies", () => {
      it("a proxy with a small maxMessageSize rejects an oversized argument locally, before sending", async () => {
        const small = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), { maxMessageSize: 64 * 1024, timeout: 5000 });
        const started = Date.now();
        const error = await small.take("z".repeat(100 * 1024)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessageTooLargeError);
        expect((error as Error).message).toMatch(/^message of \d+ bytes exceeds the maximum of 65536$/);
        expect(Date.now() - started).toBeLessThan(500);
        // The daemon, which would have accepted 100 KB, never saw it.
        expect(fed.bloat.calls).toBe(0);
        expect(await small.take("small")).toBe(1);
        await expectHealthy();
      });

      it.each([
        ["a string", "text"],
        ["a Buffer", "bytes"],
      ] as const)("a result bigger than the daemon's maxMessageSize (%s) comes back as MessageTooLargeError, not a hang", async (_what, method) => {
        const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), { timeout: 10_000 });
        const started = Date.now();
        const error = await proxy[method](2 * MiB).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessageTooLargeError);
        expect((error as Error).message).toMatch(new RegExp(`^result of \\d+ bytes exceeds the maximum message size of ${DAEMON_MAX}$`));
        expect(Date.now() - started).toBeLessThan(3000);
        expect((await proxy[method](1000)).length).toBe(1000);
        await expectHealthy();
      });

      it("a reply bigger than the proxy's own maxMessageSize fails that call promptly, not by timeout", async () => {
        // The daemon allows it, the proxy does not.
        const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), { maxMessageSize: 256 * 1024, timeout: 10_000 });
        const started = Date.now();
        const error = await proxy.text(512 * 1024).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CommunicationError);
        expect(Date.now() - started).toBeLessThan(3000);
        await expectHealthy();
      });

      if (transport === "zmq") {
        it("a reply in several frames, each small but together over the proxy's maxMessageSize, fails with MessageTooLargeError and the proxy keeps working", async () => {
          const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), { maxMessageSize: 256 * 1024, timeout: 5000 });
          // An array of Buffers: one attachment frame each, every frame under the per-frame limit.
          const error = await (proxy.echoMany(3, 100 * 1024) as Promise<unknown>).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(MessageTooLargeError);
          expect((error as Error).message).toBe(`reply exceeds the maximum message size of ${256 * 1024}`);
          expect(await proxy.text(10)).toBe("x".repeat(10));
          await expectHealthy();
        });

        it("a reply over the proxy's maxMessageSize fails that call only: a call pending on the same connection completes", async () => {
          const options = { maxMessageSize: 256 * 1024, timeout: 5000 };
          const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), options);
          const sameConnection = await use.connect<Laser>(fed.daemon.uriFor(LASER), options);
          const bystander = sameConnection.sleep(300).catch((e: unknown) => e);
          await new Promise((resolve) => setTimeout(resolve, 50));
          const error = await proxy.text(512 * 1024).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(MessageTooLargeError);
          expect(await bystander).toBe(300);
          await expectHealthy();
        });
      } else {
        // Over TCP the transport holds a whole message to maxMessageSize on both ends and ends
        // the connection at the length that crosses it (docs/protocol.md, "The TCP transport"):
        // the proxy cannot fail that one call, every call pending on the connection fails.
        it("a reply over the proxy's maxMessageSize, in one frame or several, ends its connection: that call and one pending beside it fail promptly with ConnectionClosedError, and the proxy works again", async () => {
          const options = { maxMessageSize: 256 * 1024, timeout: 5000 };
          const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), options);
          const sameConnection = await use.connect<Laser>(fed.daemon.uriFor(LASER), options);
          for (const oversized of [() => proxy.text(512 * 1024), () => proxy.echoMany(3, 100 * 1024) as Promise<unknown>]) {
            const bystander = sameConnection.sleep(300).catch((e: unknown) => e);
            await new Promise((resolve) => setTimeout(resolve, 50));
            const started = Date.now();
            const error = await oversized().catch((e: unknown) => e);
            expect(error).toBeInstanceOf(ConnectionClosedError);
            expect(await bystander).toBeInstanceOf(ConnectionClosedError);
            expect(Date.now() - started).toBeLessThan(3000);
            expect(await proxy.text(10)).toBe("x".repeat(10));
            expect(await sameConnection.echo("again")).toBe("again");
          }
          await expectHealthy();
        });
      }

      // Regression: libzmq ends a connection for good (no reconnect, ever) when a frame exceeds
      // the DEALER's ZMQ_MAXMSGSIZE, because it counts as a protocol error. A proxy that was once
      // sent such a reply must not be left dead, with every later call (and every proxy sharing
      // its pooled channel) ending in TimeoutError.
      it("a proxy that was sent a reply frame over its maxMessageSize works again afterwards", async () => {
        const options = { maxMessageSize: 256 * 1024, timeout: 3000 };
        const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), options);
        await expect(proxy.text(512 * 1024)).rejects.toThrow(CommunicationError);
        expect(await proxy.text(10)).toBe("x".repeat(10));
        // A new proxy with the same options shares that channel: it works too.
        const again = await use.connect<Laser>(fed.daemon.uriFor(LASER), options);
        expect(await again.echo("fresh")).toBe("fresh");
        await expectHealthy();
      });

      // Regression: error replies are held to maxMessageSize like results. An error whose message
      // is large (its stack repeats the message, so the envelope is twice as big) must fail that
      // call alone, not go out as a frame over the limit that costs the client its connection and
      // every other call pending on it.
      it("an error reply bigger than maxMessageSize comes back as MessageTooLargeError for that call only", async () => {
        const options = { maxMessageSize: DAEMON_MAX, timeout: 10_000 };
        const proxy = await use.connect<Bloat>(fed.daemon.uriFor(BLOAT), options);
        const sameConnection = await use.connect<Laser>(fed.daemon.uriFor(LASER), options);
        const bystander = sameConnection.sleep(500).catch((e: unknown) => e);
        await new Promise((resolve) => setTimeout(resolve, 50));
        // 600 KB of message, within the limit on its own; the envelope with its stack is not.
        const started = Date.now();
        const error = await proxy.fail(600 * 1024).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessageTooLargeError);
        expect((error as Error).message).toContain(String(DAEMON_MAX));
        expect(Date.now() - started).toBeLessThan(3000);
        expect(await bystander).toBe(500);
        expect(await proxy.text(10)).toBe("x".repeat(10));
        await expectHealthy();
      });

      it("an error reply bigger than maxMessageSize to a raw peer is replaced by a MessageTooLargeError within the limit", async () => {
        const p = peer();
        // The daemon's own error quotes the unknown member name: 700 KB of it, twice with the stack.
        const member = "m".repeat(700 * 1024);
        await p.send(rawCall(190, BLOAT, member, "[[]]"));
        const frames = await p.receive(3000);
        expect(frames.reduce((sum, f) => sum + f.length, 0)).toBeLessThanOrEqual(DAEMON_MAX);
        expect(decodeReply(frames)).toMatchObject({ kind: "error", id: 190, error: { name: "MessageTooLargeError" } });
        await expectHealthy();
      });
    });
  });
});
