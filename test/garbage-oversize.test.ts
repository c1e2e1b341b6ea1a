/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): oversized frames and messages, and connections that do not speak the framing, cost the sender its connection (or get MessageTooLargeError) and nobody else. */
import { connect as netConnect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { encodeFrames, MAX_FRAMES, PREAMBLE } from "../src/transport/tcp/frame-codec.js";
import { BLOAT, DAEMON_MAX, daemonFedGarbage, goodCall, LASER, MiB } from "./garbage/daemon.js";
import { rawCall } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    it("is disconnected on a 100 MB frame (by libzmq; over TCP, its length prefix is over maxMessageSize), keeps serving, and the peer gets replies after reconnecting", async () => {
      const p = peer();
      expect(await p.request(goodCall(60, "echo", ["before"]))).toEqual({ kind: "result", id: 60, value: "before" });
      const handshakes = p.events("handshake");
      const disconnects = p.events("disconnect");
      expect(handshakes).toBeGreaterThanOrEqual(1);

      await p.send([Buffer.alloc(100 * MiB, 0x61)]);
      await p.nextEvent("disconnect", disconnects, 10_000);
      // The other client was never affected.
      await expectHealthy();
      // The raw peer reconnects by itself and is served again.
      await p.nextEvent("handshake", handshakes, 10_000);
      expect(await p.request(goodCall(61, "echo", ["after"]), 5000)).toEqual({ kind: "result", id: 61, value: "after" });
      await p.expectSilence(200);
      await expectHealthy();
    });

    if (transport === "zmq") {
      it("answers a multi-frame message bigger than maxMessageSize with MessageTooLargeError", async () => {
        const p = peer();
        // Each frame is under the per-frame limit libzmq enforces; together they are over the daemon's maximum.
        const part = Buffer.alloc(400 * 1024, 1);
        const frames = rawCall(70, LASER, "echo", `[0],{"values":{"0":[["custom","Buffer"]]}}`, { attachments: [part, part, part] });
        const size = frames.reduce((sum, f) => sum + (typeof f === "string" ? Buffer.byteLength(f) : f.length), 0);
        expect(size).toBeGreaterThan(DAEMON_MAX);
        const error = await p.expectError(frames, 70);
        expect(error).toMatchObject({ name: "MessageTooLargeError", message: `message of ${size} bytes exceeds the maximum of ${DAEMON_MAX}` });
        // The same over-size garbage that would not even decode still gets the size error first.
        const junk = [Buffer.from("junk"), part, part, part];
        expect(await p.expectError(junk, 0)).toMatchObject({ name: "MessageTooLargeError" });
        // A message just under the limit still works.
        const fits = Buffer.alloc(DAEMON_MAX - 1024, 2);
        const reply = await p.request(rawCall(71, BLOAT, "take", `[0],{"values":{"0":[["custom","Buffer"]]}}`, { attachments: [fits] }));
        expect(reply).toEqual({ kind: "result", id: 71, value: 1 });
        await expectHealthy();
      });
    } else {
      it("drops a connection that does not speak the framing (no preamble, another version, too many frames declared) and serves the others", async () => {
        const { port } = fed.daemon.location as { port: number };
        const gone: string[] = [];
        fed.daemon.clientDisconnected.connect((peerId) => void gone.push(peerId));
        const sockets: Socket[] = [];
        const closed = (socket: Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())));
        const open = (bytes: Buffer): Socket => {
          const socket = netConnect({ host: "127.0.0.1", port });
          socket.on("error", () => {});
          socket.resume(); // reads (and drops) the daemon's preamble, so its closing is seen
          socket.write(bytes);
          sockets.push(socket);
          return socket;
        };
        use.onCleanup(async () => {
          for (const socket of sockets) socket.destroy();
        });
        const count = (n: number): Buffer => {
          const b = Buffer.alloc(4);
          b.writeUInt32BE(n >>> 0, 0);
          return b;
        };
        const http = open(Buffer.from("GET / HTTP/1.1\r\nHost: pyro\r\n\r\n"));
        const version2 = open(Buffer.concat([Buffer.from("PYTS"), Buffer.from([2, 0, 0, 0]), ...encodeFrames(goodCall(1, "echo", ["v2"]))]));
        const manyFrames = open(Buffer.concat([PREAMBLE, count(MAX_FRAMES + 1)]));
        const framesOverSize = open(Buffer.concat([PREAMBLE, count(DAEMON_MAX / 4 + 1)]));
        await Promise.all([http, version2, manyFrames, framesOverSize].map(closed));
        // Dropped by the transport before a message reached the daemon: none of them was ever a client of its.
        expect(gone).toEqual([]);
        await expectHealthy();
        expect(await peer().request(goodCall(2, "echo", ["framed"]))).toEqual({ kind: "result", id: 2, value: "framed" });
      });

      it("drops the connection of a peer whose message is over maxMessageSize in frames each under it, before the daemon sees it; other clients are not affected, and a message just under the limit works", async () => {
        const p = peer();
        expect(await p.request(goodCall(69, "echo", ["before"]))).toEqual({ kind: "result", id: 69, value: "before" });
        const part = Buffer.alloc(400 * 1024, 1);
        const frames = rawCall(70, BLOAT, "take", `[0],{"values":{"0":[["custom","Buffer"]]}}`, { attachments: [part, part, part] });
        const size = frames.reduce((sum, f) => sum + (typeof f === "string" ? Buffer.byteLength(f) : f.length), 0);
        expect(size).toBeGreaterThan(DAEMON_MAX);
        // Over ZeroMQ the daemon answers these with MessageTooLargeError; the TCP transport ends the connection at the length that crosses the limit.
        const junk = [Buffer.from("junk"), part, part, part];
        for (const message of [frames, junk]) {
          const handshakes = p.events("handshake");
          const disconnects = p.events("disconnect");
          await p.send(message);
          await p.nextEvent("disconnect", disconnects, 5000);
          await expectHealthy();
          await p.nextEvent("handshake", handshakes, 5000);
        }
        await p.expectSilence(200);
        expect(fed.bloat.calls).toBe(0);
        // A message just under the limit still works.
        const fits = Buffer.alloc(DAEMON_MAX - 1024, 2);
        const reply = await p.request(rawCall(71, BLOAT, "take", `[0],{"values":{"0":[["custom","Buffer"]]}}`, { attachments: [fits] }));
        expect(reply).toEqual({ kind: "result", id: 71, value: 1 });
        await expectHealthy();
      });
    }
  });
});
