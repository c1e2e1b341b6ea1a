/** Robustness of a daemon against bad input on the wire, over each transport (the daemon and its raw peer: garbage/daemon.ts): malformed messages, hand-made and random, are answered with ProtocolErrors, and messages a daemon does not accept with DaemonErrors. */
import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec/values.js";
import { BATCH_CODE, decodeMessage, encodeMessage, peekCorrelationId, type OutFrame } from "../src/protocol/frames.js";
import { KIND_CODES, PROTOCOL_VERSION, type Message, type MessageKind } from "../src/protocol/message.js";
import { ProtocolError } from "../src/index.js";
import { BLOAT, daemonFedGarbage, goodCall, LASER } from "./garbage/daemon.js";
import { decodeReply, frames, header, writeDigits, type HeaderFields } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";
import { prng } from "./seeded.js";

const SEED = process.env.PYRO_FUZZ_SEED !== undefined ? Number(process.env.PYRO_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    const fed = daemonFedGarbage(use, transport);
    const { expectHealthy, peer } = fed;

    it("answers a correct call from the raw peer (sanity check of the test's own encoding)", async () => {
      const p = peer();
      const reply = await p.request(goodCall(7, "echo", [{ a: [1, 2] }]));
      expect(reply).toEqual({ kind: "result", id: 7, value: { a: [1, 2] } });
      await expectHealthy();
    });

    it(`survives random frames (seed ${SEED}; replay with PYRO_FUZZ_SEED=${SEED})`, async () => {
      const random = prng(SEED);
      const int = (n: number): number => Math.floor(random() * n);
      const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
      const bytes = (n: number): Buffer => {
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = int(256);
        return b;
      };
      const words = [LASER, BLOAT, "pyro-ts.Daemon", "echo", "setPower", "power", "blink", "__proto__", "constructor", "", "x", "_internal", "then"];
      const jsonItem = (): unknown =>
        pick<() => unknown>([
          () => pick(words),
          () => int(1000) - 500,
          () => null,
          () => [int(10)],
          () => ({ values: { [`0.${pick(words)}`]: [pick(["undefined", "Date", "bigint", "set", "map"])] } }),
          () => ({ [pick(words)]: pick(words) }),
        ])();
      const body = (): OutFrame =>
        pick<() => OutFrame>([
          () => bytes(int(40)),
          () => JSON.stringify(Array.from({ length: int(6) }, jsonItem)),
          () => JSON.stringify(jsonItem()),
          () => `[${JSON.stringify(pick(words))},${JSON.stringify(pick(words))},[1]`, // truncated JSON
          () => `["${LASER}","echo",[${int(100)}]]`,
          () => "",
        ])();
      const firstFrame = (index: number): Buffer => {
        const h = random() < 0.5 ? bytes(int(20)) : header({ version: random() < 0.7 ? PROTOCOL_VERSION : int(256), kind: int(9), flags: int(4), attachments: int(4) });
        // Unique correlation ids wherever the header is long enough to carry one.
        if (h.length >= 9) writeDigits(h, index + 1, 4, 5);
        return h;
      };

      interface Expected {
        readonly frames: OutFrame[];
        /** What the daemon must do: no reply, a ProtocolError (with the message decodeMessage gives), or any reply. */
        readonly expect: "silence" | { readonly protocolError: string } | "any reply";
      }
      const cases: Expected[] = [];
      const COUNT = 300;
      for (let i = 0; i < COUNT; i++) {
        // Mostly a header with a body after it, sometimes a header alone; then attachments.
        const frames: OutFrame[] = [random() < 0.8 ? Buffer.concat([firstFrame(i), Buffer.from(body())]) : firstFrame(i)];
        const count = 1 + int(4);
        while (frames.length < count) frames.push(bytes(int(64)));
        const buffers = frames.map((f) => (typeof f === "string" ? Buffer.from(f) : Buffer.from(f)));
        const h = buffers[0]!;
        // docs/protocol.md: a call with the oneway flag gets no reply at all, not even an error.
        const oneway = h.length >= 3 && h[1] === KIND_CODES.call && (h[2]! & 1) === 1;
        let decoded: Message | undefined;
        let problem: string | undefined;
        try {
          decoded = decodeMessage(buffers);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          problem = (error as Error).message;
        }
        let expectation: Expected["expect"];
        // Heartbeats and acks are never answered.
        if (oneway || decoded?.kind === "heartbeat" || decoded?.kind === "ack") expectation = "silence";
        else if (problem !== undefined) expectation = { protocolError: problem };
        else expectation = "any reply";
        cases.push({ frames, expect: expectation });
      }

      const p = peer();
      for (const c of cases) await p.send(c.frames);

      // Replies to malformed messages come back in order; replies to the rare valid ones may
      // overtake them, so match by correlation id (0 when the header is too short to hold one).
      const wanted = cases.flatMap((c, index) => (c.expect === "silence" ? [] : [{ index, c }]));
      const byId = new Map<number, { index: number; c: Expected }[]>();
      for (const w of wanted) {
        const id = peekCorrelationId([Buffer.from(w.c.frames[0]!)]) ?? 0;
        byId.set(id, [...(byId.get(id) ?? []), w]);
      }
      for (let received = 0; received < wanted.length; received++) {
        const reply = decodeReply(await p.receive(3000));
        const candidates = byId.get(reply.id);
        expect(candidates?.length, `unexpected reply ${JSON.stringify(reply)}`).toBeGreaterThan(0);
        const { c, index } = candidates!.shift()!;
        if (c.expect !== "any reply" && c.expect !== "silence") {
          expect(reply, `message #${index}`).toMatchObject({ kind: "error", error: { name: "ProtocolError", message: c.expect.protocolError } });
        }
      }
      await p.expectSilence(300);
      expect(wanted.length).toBeGreaterThan(COUNT / 2);
      await expectHealthy();
      // The raw peer itself is still served.
      expect(await p.request(goodCall(1, "echo", ["still here"]))).toEqual({ kind: "result", id: 1, value: "still here" });
    });

    it("answers a single empty frame with a ProtocolError, id 0", async () => {
      const p = peer();
      const error = await p.expectError([Buffer.alloc(0)], 0);
      expect(error).toMatchObject({ name: "ProtocolError", message: "first frame is 0 bytes, shorter than the 12-byte header" });
      await expectHealthy();
    });

    it("answers wrong frame counts with ProtocolErrors naming the mismatch", async () => {
      const p = peer();
      const body = `["${LASER}","echo",[1]]`;
      // A header with no body after it.
      expect(await p.expectError(frames(header({ id: 11 })), 11)).toMatchObject({ name: "ProtocolError", message: expect.stringMatching(/^body is not valid JSON/) });
      expect(await p.expectError(frames(header({ id: 12, attachments: 2 }), body), 12)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 2 attachment frame(s), message carries 0",
      });
      expect(await p.expectError(frames(header({ id: 13, attachments: 0 }), body, Buffer.from("extra"), Buffer.from("more")), 13)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 0 attachment frame(s), message carries 2",
      });
      expect(await p.expectError(frames(header({ id: 14, attachments: 2 ** 21 - 1 }), body, Buffer.from("a")), 14)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 2097151 attachment frame(s), message carries 1",
      });
      // Header numbers are 7-bit digits: a byte with its top bit set is no digit.
      const highBit = header({ id: 18 });
      highBit[10] = 0x80;
      expect(await p.expectError(frames(highBit, body), 18)).toMatchObject({ name: "ProtocolError", message: "the attachment count (header bytes 9-11) is not three 7-bit digits" });
      const badId = header({ id: 19 });
      badId[4] = 0x10; // 2^32 and more
      expect(await p.expectError(frames(badId, body), 0)).toMatchObject({ name: "ProtocolError", message: "the correlation id (header bytes 4-8) is not a uint32 in five 7-bit digits" });
      // A short first frame: its id cannot be trusted, the reply carries what bytes 4-7 hold or 0.
      expect(await p.expectError([Buffer.from([PROTOCOL_VERSION, 1, 0])], 0)).toMatchObject({ name: "ProtocolError", message: "first frame is 3 bytes, shorter than the 12-byte header" });
      expect(await p.expectError([Buffer.from([PROTOCOL_VERSION, 1, 0, 0, 0, 0, 0, 0, 15, 0, 0])], 15)).toMatchObject({ name: "ProtocolError", message: "first frame is 11 bytes, shorter than the 12-byte header" });
      // The body in its own frame, as version 1 sent it: the header declares no attachments.
      expect(await p.expectError([header({ id: 17 }), Buffer.from(body)], 17)).toMatchObject({ name: "ProtocolError", message: "header declares 0 attachment frame(s), message carries 1" });
      // A get with an attachment.
      expect(await p.expectError(frames(header({ kind: KIND_CODES.get, id: 16, attachments: 1 }), `["${LASER}","power"]`, Buffer.from("x")), 16)).toMatchObject({
        name: "ProtocolError",
        message: "get carries no attachments",
      });
      await expectHealthy();
    });

    it("answers an unknown protocol version with a ProtocolError naming both versions", async () => {
      const p = peer();
      for (const [i, version] of [0, 1, 3, 255].entries()) {
        const error = await p.expectError(frames(header({ version, id: 20 + i }), `["${LASER}","echo",[1]]`), 20 + i);
        expect(error).toMatchObject({ name: "ProtocolError", message: `unsupported protocol version ${version} (this side speaks ${PROTOCOL_VERSION})` });
      }
      await expectHealthy();
    });

    it("answers an unknown kind with a ProtocolError", async () => {
      const p = peer();
      const used = new Set<number>([...Object.values(KIND_CODES), BATCH_CODE]);
      const firstUnused = Math.max(...used) + 1;
      expect(used.has(0)).toBe(false);
      for (const [i, kind] of [0, firstUnused, 200, 255].entries()) {
        expect(used.has(kind)).toBe(false);
        const error = await p.expectError(frames(header({ kind, id: 30 + i }), "[]"), 30 + i);
        expect(error).toMatchObject({ name: "ProtocolError", message: `unknown message kind ${kind}` });
      }
      await expectHealthy();
    });

    it("answers a body that is not JSON with a ProtocolError", async () => {
      const p = peer();
      const bodies: OutFrame[] = ["", "not json", `["${LASER}","echo",[1]`, Buffer.from([0xff, 0xfe, 0x00, 0x5b]), "[1,]", "\u0000"];
      for (const [i, body] of bodies.entries()) {
        const error = await p.expectError(frames(header({ id: 40 + i }), body), 40 + i);
        expect(error.name).toBe("ProtocolError");
        expect(error.message).toMatch(/^body is not valid JSON \(/);
      }
      await expectHealthy();
    });

    it("answers a body of the wrong shape with a ProtocolError", async () => {
      const p = peer();
      const cases: [HeaderFields, string, string][] = [
        [{ kind: KIND_CODES.call }, `{"object":"laser"}`, "body is not a JSON array"],
        [{ kind: KIND_CODES.call }, `"laser"`, "body is not a JSON array"],
        [{ kind: KIND_CODES.call }, `null`, "body is not a JSON array"],
        [{ kind: KIND_CODES.call }, `[]`, "object id (body[0]) must be a string"],
        [{ kind: KIND_CODES.call }, `[1,"echo",[1]]`, "object id (body[0]) must be a string"],
        [{ kind: KIND_CODES.call }, `["laser",{"toString":1},[1]]`, "member (body[1]) must be a string"],
        [{ kind: KIND_CODES.call }, `["laser","echo"]`, "body has 2 items, expected 3 or 4"],
        [{ kind: KIND_CODES.call }, `["laser","echo",[1],{},5]`, "body has 5 items, expected 3 or 4"],
        [{ kind: KIND_CODES.call }, `["laser","echo",[1],null]`, "value annotations must be an object"],
        [{ kind: KIND_CODES.call }, `["laser","echo",[1],"meta"]`, "value annotations must be an object"],
        [{ kind: KIND_CODES.get }, `["laser"]`, "get body has 1 items, expected 2"],
        [{ kind: KIND_CODES.get }, `["laser","power",3]`, "get body has 3 items, expected 2"],
        [{ kind: KIND_CODES.set }, `["laser","power"]`, "body has 2 items, expected 3 or 4"],
        [{ kind: KIND_CODES.heartbeat }, `[1]`, "heartbeat carries no data"],
        [{ kind: KIND_CODES.result }, `[]`, "body has 0 items, expected 1 or 2"],
        [{ kind: KIND_CODES.subscribe }, `["laser"]`, "subscribe body has 1 items, expected 2"],
        [{ kind: KIND_CODES.subscribe }, `["laser",7]`, "signal (body[1]) must be a string"],
        [{ kind: KIND_CODES.ack }, `[1]`, "ack carries no data"],
      ];
      for (const [i, [fields, body, message]] of cases.entries()) {
        const id = 50 + i;
        const error = await p.expectError(frames(header({ ...fields, id }), body), id);
        expect(error, body).toEqual(expect.objectContaining({ name: "ProtocolError", message }));
      }
      await expectHealthy();
    });

    it("answers result and error messages sent to it with DaemonError", async () => {
      const p = peer();
      const fakes: [MessageKind, OutFrame[]][] = [
        ["result", encodeMessage({ kind: "result", id: 150, value: encodeValue(42) })],
        ["error", encodeMessage({ kind: "error", id: 151, value: encodeValue({ name: "Error", message: "fake" }) })],
        ["event", encodeMessage({ kind: "event", id: 152, object: LASER, signal: "powerChanged", dropped: 0, args: encodeValue([1]) })],
      ];
      for (const [i, [kind, frames]] of fakes.entries()) {
        const error = await p.expectError(frames, 150 + i);
        expect(error).toMatchObject({ name: "DaemonError", message: `a daemon does not accept ${kind} messages` });
      }
      // Acks for events never sent are ignored, silently.
      await p.send(encodeMessage({ kind: "ack", id: 12345 }));
      // A valid heartbeat is silently accepted.
      await p.send(encodeMessage({ kind: "heartbeat", id: 0 }));
      await p.expectSilence(200);
      await expectHealthy();
    });
  });
});
