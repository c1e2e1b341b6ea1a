/**
 * Robustness of a daemon against bad input on the wire, over each transport. A raw client
 * (a zeromq.js DEALER over ZeroMQ, a RawTcpPeer over TCP; see raw-wire.ts) speaks (broken)
 * protocol to a daemon directly; a well-behaved proxy to the same daemon must keep getting
 * correct answers before and after every case.
 */
import { connect as netConnect, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import { BATCH_CODE, decodeMessage, encodeMessage, HEADER_SIZE, isBatch, splitBatch, type OutFrame } from "../src/protocol/frames.js";
import { KIND_CODES, PROTOCOL_VERSION, type Message, type MessageKind } from "../src/protocol/message.js";
import {
  CommunicationError,
  ConnectionClosedError,
  Daemon,
  endpointOf,
  expose,
  MessageTooLargeError,
  ProtocolError,
  type Remote,
} from "../src/index.js";
import { encodeFrames, MAX_FRAMES, PREAMBLE } from "../src/transport/tcp/frame-codec.js";
import { Laser } from "./fixtures/laser.js";
import { forEachTransport, type TransportKind } from "./helpers.js";
import { rawWire, type RawPeerEvent, type RawWire } from "./raw-wire.js";
import { prng, prototypeSnapshot } from "./seeded.js";

const MiB = 1024 * 1024;
/** The daemon under test accepts at most this much per message (all frames together). */
const DAEMON_MAX = 1 * MiB;
const LASER = "laser";
const BLOAT = "bloat";

/** Makes results and errors as big as asked, to test size limits on the way back. */
@expose
class Bloat {
  text(length: number): string {
    return "x".repeat(length);
  }

  bytes(length: number): Buffer {
    return Buffer.alloc(length, 7);
  }

  /** Throws an error whose message (and so its stack) is `length` characters long. */
  fail(length: number): never {
    throw new RangeError("y".repeat(length));
  }

  /** `count` Buffers of `size` bytes: a reply of many attachment frames. */
  echoMany(count: number, size: number): Buffer[] {
    return Array.from({ length: count }, () => Buffer.alloc(size, 3));
  }

  /** Counts calls, so a test can tell whether a request reached the daemon. */
  calls = 0;
  take(_value: unknown): number {
    return ++this.calls;
  }
}

// ---------------------------------------------------------------------------------------
// Wire helpers

interface HeaderFields {
  readonly version?: number;
  readonly kind?: number;
  readonly flags?: number;
  readonly id?: number;
  readonly attachments?: number;
}

/** A 12-byte header with any field set to anything (valid defaults: version 1, call, id 1). */
function header({ version = PROTOCOL_VERSION, kind = KIND_CODES.call, flags = 0, id = 1, attachments = 0 }: HeaderFields = {}): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h[0] = version;
  h[1] = kind;
  h[2] = flags;
  h.writeUInt32BE(id >>> 0, 4);
  h.writeUInt32BE(attachments >>> 0, 8);
  return h;
}

/** A call message built by hand: `body` is the JSON array after object and member. */
function rawCall(id: number, object: string, member: string, rest: string, options: { oneway?: boolean; attachments?: Uint8Array[] } = {}): OutFrame[] {
  const attachments = options.attachments ?? [];
  return [
    header({ kind: KIND_CODES.call, flags: options.oneway ? 1 : 0, id, attachments: attachments.length }),
    `[${JSON.stringify(object)},${JSON.stringify(member)},${rest}]`,
    ...attachments,
  ];
}

/** A correct call message, as a proxy would send it. */
function goodCall(id: number, member: string, args: unknown[], object = LASER): OutFrame[] {
  return encodeMessage({ kind: "call", id, oneway: false, object, member, args: encodeValue(args) });
}

interface Envelope {
  readonly name: string;
  readonly message: string;
}

function isEnvelope(value: unknown): value is Envelope {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === "string" && typeof v.message === "string";
}

type Reply = { readonly kind: "result"; readonly id: number; readonly value: unknown } | { readonly kind: "error"; readonly id: number; readonly error: Envelope };

/** Decodes what the daemon sent back; fails the test if it is not a well-formed reply. */
function decodeReply(frames: Buffer[]): Reply {
  const message: Message = decodeMessage(frames);
  if (message.kind === "result") return { kind: "result", id: message.id, value: decodeValue(message.value) };
  if (message.kind === "error") {
    const value = decodeValue(message.value);
    if (!isEnvelope(value)) throw new Error(`error reply carries no valid envelope: ${JSON.stringify(value)}`);
    return { kind: "error", id: message.id, error: value };
  }
  throw new Error(`daemon sent a ${message.kind} message, not a reply`);
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: string }).code === "EAGAIN";
}

/** A raw client that sends whatever it is given; every receive has a timeout. */
class RawPeer {
  readonly wire: RawWire;

  constructor(transport: TransportKind, endpoint: string) {
    this.wire = rawWire(transport, endpoint);
  }

  events(event: RawPeerEvent): number {
    return this.wire.events(event);
  }

  /** Waits until `event` has been seen more than `seen` times. */
  nextEvent(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void> {
    return this.wire.nextEvent(event, seen, timeoutMs);
  }

  send(frames: OutFrame[]): Promise<void> {
    return this.wire.send(frames);
  }

  /** Messages of a batch the daemon sent (it batches replies under load), not handed out yet. */
  #unbatched: Buffer[][] = [];

  async receive(timeoutMs = 3000): Promise<Buffer[]> {
    if (this.#unbatched.length) return this.#unbatched.shift()!;
    const frames = await this.wire.receive(timeoutMs);
    if (!isBatch(frames)) return frames;
    this.#unbatched = splitBatch(frames);
    return this.#unbatched.shift()!;
  }

  /** Sends a message and decodes the one reply it must get. */
  async request(frames: OutFrame[], timeoutMs = 3000): Promise<Reply> {
    await this.send(frames);
    return decodeReply(await this.receive(timeoutMs));
  }

  /** Sends a message that must be answered with an error; returns the error envelope after checking the id. */
  async expectError(frames: OutFrame[], id: number): Promise<Envelope> {
    const reply = await this.request(frames);
    expect(reply.kind, `reply ${JSON.stringify(reply)}`).toBe("error");
    expect(reply.id).toBe(id);
    return (reply as Extract<Reply, { kind: "error" }>).error;
  }

  /** Asserts that nothing arrives within `ms`. */
  async expectSilence(ms = 400): Promise<void> {
    let frames: Buffer[] | undefined;
    try {
      frames = await this.receive(ms);
    } catch (error) {
      if (isTimeout(error)) return;
      throw error;
    }
    expect.fail(`expected no reply, got ${JSON.stringify(decodeReply(frames))}`);
  }

  close(): void {
    this.wire.close();
  }
}

const SEED = process.env.PYRO_FUZZ_SEED !== undefined ? Number(process.env.PYRO_FUZZ_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;

function expectNoPollution(before: Record<string, string[]>): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(prototypeSnapshot()).toEqual(before);
}

// ---------------------------------------------------------------------------------------

forEachTransport((use, transport) => {
  describe("a daemon fed garbage", () => {
    let daemon: Daemon;
    let laser: Laser;
    let bloat: Bloat;
    let good: Remote<Laser>;
    let raw: RawPeer | undefined;
    let reported: { error: unknown; context: string }[];
    let healthChecks = 0;

    /** The well-behaved proxy gets correct answers: called before and after every case. */
    async function expectHealthy(): Promise<void> {
      const n = ++healthChecks;
      const value = { n, when: new Date(1_700_000_000_000 + n), tags: new Set(["a", `b${n}`]), bytes: Buffer.from([n & 0xff, 1, 2]) };
      expect(await good.echo(value)).toEqual(value);
      expect(await good.setPower(n)).toBe(n);
      expect(await good.power).toBe(n);
      expect(laser.power).toBe(n);
    }

    function peer(): RawPeer {
      raw = new RawPeer(transport, endpointOf(daemon.location));
      return raw;
    }

    beforeEach(async () => {
      reported = [];
      daemon = await use.daemon({ maxMessageSize: DAEMON_MAX, onError: (error, context) => reported.push({ error, context }) });
      laser = new Laser();
      bloat = new Bloat();
      daemon.register(laser, LASER);
      daemon.register(bloat, BLOAT);
      good = await use.connect<Laser>(daemon.uriFor(LASER), { timeout: 5000 });
      await expectHealthy();
    });

    afterEach(() => {
      raw?.close();
      raw = undefined;
    });

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
        if (h.length >= 8) h.writeUInt32BE(index + 1, 4);
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
        const frames: OutFrame[] = [firstFrame(i)];
        const count = 1 + int(5);
        if (count > 1) frames.push(body());
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
        const h = Buffer.from(w.c.frames[0]!);
        const id = h.length >= 8 ? h.readUInt32BE(4) : 0;
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
      expect(error).toMatchObject({ name: "ProtocolError", message: "message has 1 frame(s), at least 2 (header, body) are needed" });
      await expectHealthy();
    });

    it("answers wrong frame counts with ProtocolErrors naming the mismatch", async () => {
      const p = peer();
      const body = `["${LASER}","echo",[1]]`;
      expect(await p.expectError([header({ id: 11 })], 11)).toMatchObject({ name: "ProtocolError", message: expect.stringMatching(/message has 1 frame/) });
      expect(await p.expectError([header({ id: 12, attachments: 2 }), body], 12)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 2 attachment frame(s), message carries 0",
      });
      expect(await p.expectError([header({ id: 13, attachments: 0 }), body, Buffer.from("extra"), Buffer.from("more")], 13)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 0 attachment frame(s), message carries 2",
      });
      expect(await p.expectError([header({ id: 14, attachments: 0xffffffff }), body, Buffer.from("a")], 14)).toMatchObject({
        name: "ProtocolError",
        message: "header declares 4294967295 attachment frame(s), message carries 1",
      });
      // A short or long header: its id cannot be trusted, the reply carries what bytes 4-7 hold or 0.
      expect(await p.expectError([Buffer.from([1, 1, 0]), body], 0)).toMatchObject({ name: "ProtocolError", message: "header is 3 bytes, expected 12" });
      expect(await p.expectError([Buffer.concat([header({ id: 15 }), Buffer.from([0])]), body], 15)).toMatchObject({
        name: "ProtocolError",
        message: "header is 13 bytes, expected 12",
      });
      // A get with an attachment.
      expect(await p.expectError([header({ kind: KIND_CODES.get, id: 16, attachments: 1 }), `["${LASER}","power"]`, Buffer.from("x")], 16)).toMatchObject({
        name: "ProtocolError",
        message: "get carries no attachments",
      });
      await expectHealthy();
    });

    it("answers an unknown protocol version with a ProtocolError naming both versions", async () => {
      const p = peer();
      for (const [i, version] of [0, 2, 255].entries()) {
        const error = await p.expectError([header({ version, id: 20 + i }), `["${LASER}","echo",[1]]`], 20 + i);
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
        const error = await p.expectError([header({ kind, id: 30 + i }), "[]"], 30 + i);
        expect(error).toMatchObject({ name: "ProtocolError", message: `unknown message kind ${kind}` });
      }
      await expectHealthy();
    });

    it("answers a body that is not JSON with a ProtocolError", async () => {
      const p = peer();
      const bodies: OutFrame[] = ["", "not json", `["${LASER}","echo",[1]`, Buffer.from([0xff, 0xfe, 0x00, 0x5b]), "[1,]", "\u0000"];
      for (const [i, body] of bodies.entries()) {
        const error = await p.expectError([header({ id: 40 + i }), body], 40 + i);
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
        const error = await p.expectError([header({ ...fields, id }), body], id);
        expect(error, body).toEqual(expect.objectContaining({ name: "ProtocolError", message }));
      }
      await expectHealthy();
    });

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
        const { port } = daemon.location as { port: number };
        const gone: string[] = [];
        daemon.clientDisconnected.connect((peerId) => void gone.push(peerId));
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
        expect(bloat.calls).toBe(0);
        // A message just under the limit still works.
        const fits = Buffer.alloc(DAEMON_MAX - 1024, 2);
        const reply = await p.request(rawCall(71, BLOAT, "take", `[0],{"values":{"0":[["custom","Buffer"]]}}`, { attachments: [fits] }));
        expect(reply).toEqual({ kind: "result", id: 71, value: 1 });
        await expectHealthy();
      });
    }

    it.each([
      ["call", "constructor"],
      ["call", "__proto__"],
      ["call", "_internal"],
      ["call", "toString"],
      ["call", "then"],
      ["call", "hasOwnProperty"],
      ["call", "__defineGetter__"],
      ["call", "valueOf"],
      ["call", "$close"],
      ["call", "powerChanged"],
      ["call", "power"],
      ["call", "nope"],
      ["call", ""],
      ["get", "__proto__"],
      ["get", "constructor"],
      ["get", "_internal"],
      ["get", "echo"],
      ["set", "constructor"],
      ["set", "__proto__"],
      ["set", "wavelength"],
      ["set", "setPower"],
    ] as const)("refuses %s of %j with UnknownMemberError", async (kind, member) => {
      const p = peer();
      const id = 80;
      let frames: OutFrame[];
      if (kind === "call") frames = rawCall(id, LASER, member, "[[]]");
      else if (kind === "get") frames = [header({ kind: KIND_CODES.get, id }), JSON.stringify([LASER, member])];
      else frames = [header({ kind: KIND_CODES.set, id }), JSON.stringify([LASER, member, { polluted: true }])];
      const error = await p.expectError(frames, id);
      const as = kind === "call" ? "method" : kind === "get" ? "attribute" : "writable attribute";
      expect(error.name).toBe("UnknownMemberError");
      expect(error.message).toMatch(new RegExp(`^"laser" has no exposed ${as} ${escapeRegExp(JSON.stringify(member))}`));
      // Nothing was reached: the instance and Object.prototype are untouched.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(laser)).toBe(Laser.prototype);
      expect(laser.constructor).toBe(Laser);
      // The daemon object is protected the same way.
      const onDaemon = await p.expectError(rawCall(id + 1, "pyro-ts.Daemon", member, "[[]]"), id + 1);
      expect(onDaemon.name).toBe("UnknownMemberError");
      await expectHealthy();
    });

    it("refuses subscriptions to anything but an exposed signal with UnknownMemberError", async () => {
      const p = peer();
      for (const [i, signal] of ["__proto__", "constructor", "echo", "power", "nope", "toString", ""].entries()) {
        const id = 85 + i;
        const error = await p.expectError([header({ kind: KIND_CODES.subscribe, id }), JSON.stringify([LASER, signal])], id);
        expect(error).toMatchObject({ name: "UnknownMemberError", message: `"laser" has no exposed signal ${JSON.stringify(signal)}` });
      }
      const unknownObject = await p.expectError([header({ kind: KIND_CODES.subscribe, id: 95 }), `["nope","powerChanged"]`], 95);
      expect(unknownObject).toMatchObject({ name: "DaemonError", message: `unknown object "nope"` });
      // Unsubscribing what was never subscribed is answered with false.
      expect(await p.request([header({ kind: KIND_CODES.unsubscribe, id: 96 }), `["${LASER}","powerChanged"]`])).toEqual({ kind: "result", id: 96, value: false });
      await expectHealthy();
    });

    it("keeps emitting to others when a raw subscriber never acknowledges and then vanishes", async () => {
      const p = peer();
      expect(await p.request([header({ kind: KIND_CODES.subscribe, id: 97 }), `["${LASER}","powerChanged"]`])).toEqual({ kind: "result", id: 97, value: null });
      const seen: number[] = [];
      const off = await good.powerChanged.connect((mw) => void seen.push(mw));
      try {
        for (let i = 1; i <= 50; i++) expect(await good.setPower(1000 + i)).toBe(1000 + i);
        // The raw peer got events it never acknowledges.
        const first = decodeMessage(await p.receive(2000));
        expect(first).toMatchObject({ kind: "event", id: 1, object: LASER, signal: "powerChanged" });
        p.close();
        raw = undefined;
        for (let i = 51; i <= 100; i++) expect(await good.setPower(1000 + i)).toBe(1000 + i);
        await expect.poll(() => seen.at(-1), { timeout: 3000 }).toBe(1100);
      } finally {
        await off();
      }
      await expectHealthy();
    });

    it("answers a call to an unknown object id with DaemonError", async () => {
      const p = peer();
      for (const [i, object] of ["nope", "", "__proto__", "constructor", "x".repeat(2000)].entries()) {
        const error = await p.expectError(rawCall(90 + i, object, "echo", "[[1]]"), 90 + i);
        expect(error).toMatchObject({ name: "DaemonError", message: `unknown object ${JSON.stringify(object)}` });
      }
      const get = await p.expectError([header({ kind: KIND_CODES.get, id: 99 }), `["nope","power"]`], 99);
      expect(get).toMatchObject({ name: "DaemonError", message: `unknown object "nope"` });
      await expectHealthy();
    });

    it("answers arguments that are not an array with an error", async () => {
      const p = peer();
      const cases = [`5`, `null`, `"abc"`, `{"0":1,"length":1}`, `[1],{"values":["set"]}`, `{"length":100000000}`];
      for (const [i, args] of cases.entries()) {
        const error = await p.expectError(rawCall(100 + i, LASER, "setPower", args), 100 + i);
        expect(error, args).toMatchObject({ name: "ProtocolError", message: "call arguments must be an array" });
      }
      expect(laser.power).toBe(healthChecks);
      await expectHealthy();
    });

    it("refuses superjson annotations that try prototype pollution", async () => {
      const before = prototypeSnapshot();
      const p = peer();
      // Each attempt is refused with an error matching `error`, or (when it is a legitimate value after all) echoed as `result` checks.
      const attempts: { args: string; error?: RegExp; result?: (value: unknown) => void }[] = [
        { args: `[{}],{"values":{"0.__proto__.polluted":["undefined"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"0.constructor.prototype.polluted":["undefined"]}}`, error: /(constructor|prototype) is not allowed/ },
        { args: `[{"a":{}}],{"referentialEqualities":{"0.a":["0.__proto__.polluted"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{"a":{}}],{"referentialEqualities":{"0.a":["0.constructor.prototype.polluted"]}}`, error: /not allowed/ },
        { args: `[{}],{"referentialEqualities":[["0.__proto__"]]}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"__proto__":{"polluted":["undefined"]}}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":[["map"],{"__proto__":["undefined"]}]}`, error: /./ },
        { args: `[{"__proto__":{"polluted":1}}],{"values":{"0.__proto__":["undefined"]}}`, error: /__proto__ is not allowed/ },
        { args: `[{}],{"values":{"0":[["class","Object"]]}}`, error: /./ },
        { args: `[5],{"values":{"0":[["custom","Buffer"]]}}`, error: /binary placeholder 5 does not name an attachment frame/ },
        { args: `[0],{"values":{"0":[["custom","NoSuchType"]]}}`, error: /./ },
        { args: `[0],{"values":"0"}`, error: /./ },
        // A plain JSON object with an own "__proto__" key: decoded as an own property, refused when echoed back.
        { args: `[{"__proto__":{"polluted":1}}]`, error: /prototype pollution/ },
        // A Map keyed "__proto__" is a legitimate value: it comes back as it went.
        {
          args: `[[["__proto__",{"polluted":1}]]],{"values":{"0":["map"]}}`,
          result: (value) => {
            expect(value).toBeInstanceOf(Map);
            expect([...(value as Map<string, unknown>)]).toEqual([["__proto__", { polluted: 1 }]]);
          },
        },
      ];
      for (const [i, attempt] of attempts.entries()) {
        const id = 110 + i;
        const reply = await p.request(rawCall(id, LASER, "echo", attempt.args));
        expect(reply.id).toBe(id);
        // Whatever the daemon made of it, nothing may be polluted.
        expectNoPollution(before);
        if (attempt.error) {
          expect(reply, attempt.args).toMatchObject({ kind: "error", error: { message: expect.stringMatching(attempt.error) } });
        } else {
          expect(reply.kind, attempt.args).toBe("result");
          attempt.result!((reply as Extract<Reply, { kind: "result" }>).value);
        }
      }
      // Through set, too.
      const set = await p.request([header({ kind: KIND_CODES.set, id: 140 }), `["${LASER}","power",{},{"values":{"__proto__.polluted":["undefined"]}}]`]);
      expect(set).toMatchObject({ kind: "error", id: 140, error: { name: "SerializeError" } });
      expectNoPollution(before);
      expect(laser.power).toBe(healthChecks);
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

    it("never answers a oneway call, however broken, and keeps working", async () => {
      const p = peer();
      const flags = 1;
      const oneway: OutFrame[][] = [
        [header({ flags, id: 160 }), "not json"],
        [header({ flags, id: 161, attachments: 3 }), `["${LASER}","blink",[1]]`],
        [Buffer.from([PROTOCOL_VERSION, KIND_CODES.call, flags])],
        [header({ flags, id: 162, version: 9 }), `["${LASER}","blink",[1]]`],
        [header({ flags, id: 163 }), `{"a":1}`],
        rawCall(164, LASER, "nope", "[[]]", { oneway: true }),
        rawCall(165, LASER, "constructor", "[[]]", { oneway: true }),
        rawCall(166, "no-such-object", "blink", "[1]", { oneway: true }),
        rawCall(167, LASER, "blink", `{"0":1}`, { oneway: true }),
        rawCall(168, LASER, "echo", `[{}],{"values":{"0.__proto__.polluted":["undefined"]}}`, { oneway: true }),
        rawCall(169, LASER, "setPower", "[-1]", { oneway: true }),
        // Over maxMessageSize, in frames each under libzmq's limit (over TCP such a message costs the connection: tested above).
        ...(transport === "zmq" ? [rawCall(170, LASER, "blink", `[1]`, { oneway: true, attachments: [Buffer.alloc(600 * 1024), Buffer.alloc(600 * 1024)] })] : []),
      ];
      for (const frames of oneway) await p.send(frames);
      // A valid oneway call goes through, silently too.
      await p.send(encodeMessage({ kind: "call", id: 171, oneway: true, object: LASER, member: "blink", args: encodeValue([5]) }));
      await p.expectSilence(500);
      await expect.poll(() => laser.blinks, { timeout: 2000 }).toBe(5);
      // The first reply the raw peer ever gets is the one to its next two-way call.
      expect(await p.request(goodCall(172, "echo", ["two-way"]))).toEqual({ kind: "result", id: 172, value: "two-way" });
      // What could not be answered was reported locally: undecodable ones and calls that failed.
      await expect.poll(() => reported.length, { timeout: 2000 }).toBeGreaterThanOrEqual(6);
      expect(reported.map((r) => (r.error as Error).name)).toEqual(
        expect.arrayContaining(["ProtocolError", "UnknownMemberError", "UnknownMemberError", "DaemonError", "SerializeError", "RangeError"]),
      );
      expect(reported.map((r) => r.context)).toContain("a oneway call was dropped");
      expect(reported.map((r) => r.context)).toContain(`oneway call ${LASER}.nope failed`);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await expectHealthy();
    });

    it("answers deeply nested arguments without falling over", async () => {
      const p = peer();
      const depth = 20_000;
      const nested = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const reply = await p.request(rawCall(180, LASER, "echo", `[${nested}]`), 5000);
      expect(reply.id).toBe(180);
      // Either echoed or refused with an error; what matters is an answer and a live daemon.
      if (reply.kind === "error") expect(reply.error.name).toBe("SerializeError");
      await expectHealthy();
    });

    describe("size limits through proxies", () => {
      it("a proxy with a small maxMessageSize rejects an oversized argument locally, before sending", async () => {
        const small = await use.connect<Bloat>(daemon.uriFor(BLOAT), { maxMessageSize: 64 * 1024, timeout: 5000 });
        const started = Date.now();
        const error = await small.take("z".repeat(100 * 1024)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(MessageTooLargeError);
        expect((error as Error).message).toMatch(/^message of \d+ bytes exceeds the maximum of 65536$/);
        expect(Date.now() - started).toBeLessThan(500);
        // The daemon, which would have accepted 100 KB, never saw it.
        expect(bloat.calls).toBe(0);
        expect(await small.take("small")).toBe(1);
        await expectHealthy();
      });

      it.each([
        ["a string", "text"],
        ["a Buffer", "bytes"],
      ] as const)("a result bigger than the daemon's maxMessageSize (%s) comes back as MessageTooLargeError, not a hang", async (_what, method) => {
        const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), { timeout: 10_000 });
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
        const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), { maxMessageSize: 256 * 1024, timeout: 10_000 });
        const started = Date.now();
        const error = await proxy.text(512 * 1024).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CommunicationError);
        expect(Date.now() - started).toBeLessThan(3000);
        await expectHealthy();
      });

      if (transport === "zmq") {
        it("a reply in several frames, each small but together over the proxy's maxMessageSize, fails with MessageTooLargeError and the proxy keeps working", async () => {
          const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), { maxMessageSize: 256 * 1024, timeout: 5000 });
          // An array of Buffers: one attachment frame each, every frame under the per-frame limit.
          const error = await (proxy.echoMany(3, 100 * 1024) as Promise<unknown>).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(MessageTooLargeError);
          expect((error as Error).message).toBe(`reply exceeds the maximum message size of ${256 * 1024}`);
          expect(await proxy.text(10)).toBe("x".repeat(10));
          await expectHealthy();
        });

        it("a reply over the proxy's maxMessageSize fails that call only: a call pending on the same connection completes", async () => {
          const options = { maxMessageSize: 256 * 1024, timeout: 5000 };
          const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), options);
          const sameConnection = await use.connect<Laser>(daemon.uriFor(LASER), options);
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
          const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), options);
          const sameConnection = await use.connect<Laser>(daemon.uriFor(LASER), options);
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
        const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), options);
        await expect(proxy.text(512 * 1024)).rejects.toThrow(CommunicationError);
        expect(await proxy.text(10)).toBe("x".repeat(10));
        // A new proxy with the same options shares that channel: it works too.
        const again = await use.connect<Laser>(daemon.uriFor(LASER), options);
        expect(await again.echo("fresh")).toBe("fresh");
        await expectHealthy();
      });

      // Regression: error replies are held to maxMessageSize like results. An error whose message
      // is large (its stack repeats the message, so the envelope is twice as big) must fail that
      // call alone, not go out as a frame over the limit that costs the client its connection and
      // every other call pending on it.
      it("an error reply bigger than maxMessageSize comes back as MessageTooLargeError for that call only", async () => {
        const options = { maxMessageSize: DAEMON_MAX, timeout: 10_000 };
        const proxy = await use.connect<Bloat>(daemon.uriFor(BLOAT), options);
        const sameConnection = await use.connect<Laser>(daemon.uriFor(LASER), options);
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
