/**
 * Bad input on a daemon's Pyro5 port, from a raw node:net peer: each gets what Pyro5's own
 * daemon does (CONNECTFAIL before the handshake, a silent close after it, an exception reply
 * when a request was readable but its arguments not), only that connection ends, and a
 * well-behaved client (raw TypeScript here, real Python Pyro5 at the end) keeps being served.
 * The daemon's maxConnections and maxMessageSize hold for Pyro5 clients too.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, Daemon, expose, LimitExceededError, oneway } from "../src/index.js";
import { Flag, MessageType, SerializerId } from "../src/pyro5/wire/constants.js";
import { jsonSerializer, serializerById } from "../src/pyro5/wire/serializer.js";
import { pyro5Unavailable, runPython } from "./pyro5-python.js";
import { RawPyro5Client } from "./pyro5-raw-client.js";
import { prng } from "./seeded.js";

@expose
class Probe {
  add(a: number, b: number): number {
    return a + b;
  }

  text(length: number): string {
    return "x".repeat(length);
  }

  @oneway
  explode(): void {
    throw new Error("boom in a oneway call");
  }
}

const decode = (payload: Buffer): unknown => jsonSerializer.decode(payload);
/** A reply's payload, in the serializer it says. */
const decodeReply = (reply: { serializerId: number; payload: Buffer }): unknown => (serializerById(reply.serializerId) ?? jsonSerializer).decode(reply.payload);

/** A CONNECT for "probe" with a valid header, to be broken by the tests. */
function connectBytes(client: RawPyro5Client): Buffer {
  return client.message({ type: MessageType.connect, serializerId: SerializerId.json, seq: 0, payload: jsonSerializer.encode({ handshake: "hello", object: "probe" }) });
}

describe("garbage on the Pyro5 port", () => {
  let daemon: Daemon;
  let port: number;
  let steady: RawPyro5Client;
  const reported: string[] = [];
  const clients: RawPyro5Client[] = [];

  async function client(): Promise<RawPyro5Client> {
    const opened = await RawPyro5Client.open(port);
    clients.push(opened);
    return opened;
  }

  /** A peer that sends `bytes` first: it must be answered CONNECTFAIL (json, seq 0) matching `reason`, then dropped. */
  async function refusedBeforeHandshake(bytes: Buffer | string, reason: RegExp): Promise<void> {
    const peer = await client();
    peer.send(bytes);
    const reply = await peer.next();
    expect(reply.type).toBe(MessageType.connectFail);
    expect(decodeReply(reply)).toMatch(reason);
    expect(await peer.closesWithin()).toBe(true);
  }

  /** A handshaken peer. */
  async function connected(): Promise<RawPyro5Client> {
    const peer = await client();
    const reply = await peer.handshake("probe");
    expect(reply.type).toBe(MessageType.connectOk);
    return peer;
  }

  beforeAll(async () => {
    daemon = new Daemon({ host: "127.0.0.1", port: 0, maxMessageSize: 64 * 1024, pyro5: { port: 0, stallTimeout: 300 }, onError: (error, context) => void reported.push(`${context}: ${String(error)}`) });
    await daemon.start();
    daemon.register(new Probe(), "probe");
    port = daemon.pyro5Location.port;
    steady = await RawPyro5Client.open(port);
    expect((await steady.handshake("probe")).type).toBe(MessageType.connectOk);
  });

  afterEach(async () => {
    // The well-behaved client is served after every kind of garbage.
    const { value, exception } = await steady.invoke("probe", "add", [20, 22]);
    expect({ value, exception }).toEqual({ value: 42, exception: false });
    while (clients.length > 0) clients.pop()!.destroy();
  });

  afterAll(async () => {
    steady?.destroy();
    for (const peer of clients) peer.destroy();
    await daemon?.close();
  });

  describe("before the handshake (CONNECTFAIL, then the connection ends)", () => {
    it("bad magic", async () => {
      const bytes = connectBytes(steady);
      bytes.writeUInt16BE(0x1234, 38);
      await refusedBeforeHandshake(bytes, /magic/);
    });

    it("a wrong protocol version (Pyro4's 48, and 501)", async () => {
      for (const version of [48, 501]) {
        const bytes = connectBytes(steady);
        bytes.writeUInt16BE(version, 4);
        await refusedBeforeHandshake(bytes.subarray(0, 6), new RegExp(`version ${version}`));
      }
    });

    it("a 4 GiB length, refused from the header before anything is allocated", async () => {
      const bytes = connectBytes(steady).subarray(0, 40);
      bytes.writeUInt32BE(0xffffffff, 12);
      await refusedBeforeHandshake(bytes, /exceeds/);
    });

    it("random bytes", async () => {
      const random = prng(15);
      await refusedBeforeHandshake(Buffer.from(Array.from({ length: 200 }, () => Math.floor(random() * 256))), /not a Pyro5 message/);
      await refusedBeforeHandshake("GET / HTTP/1.1\r\nHost: x\r\n\r\n", /not a Pyro5 message/);
    });

    it("a first message that is not CONNECT (an INVOKE, a PING)", async () => {
      const invoke = await client();
      await refusedBeforeHandshake(invoke.invokeMessage("probe", "add", [1, 2]), /invalid msg type 4 received \(expected: 1\)/);
      const ping = await client();
      await refusedBeforeHandshake(ping.message({ type: MessageType.ping, serializerId: 42, payload: "ping" }), /invalid msg type 6/);
    });

    it("a CONNECT whose payload is garbage, or not a handshake", async () => {
      await refusedBeforeHandshake(steady.message({ type: MessageType.connect, serializerId: SerializerId.json, payload: "{not json" }), /./);
      await refusedBeforeHandshake(steady.message({ type: MessageType.connect, serializerId: SerializerId.serpent, payload: "(((" }), /./);
      await refusedBeforeHandshake(steady.message({ type: MessageType.connect, serializerId: SerializerId.json, payload: "[1, 2]" }), /"object"/);
    });

    it("a serializer pyro-ts does not answer (marshal), told in json which ones it does", async () => {
      await refusedBeforeHandshake(steady.message({ type: MessageType.connect, serializerId: SerializerId.marshal, payload: "\x00" }), /serpent .* and json/);
    });

    it("a CONNECT to an unknown object", async () => {
      const peer = await client();
      const reply = await peer.handshake("no.such.object");
      expect(reply.type).toBe(MessageType.connectFail);
      expect(decode(reply.payload)).toMatch(/unknown object/);
      expect(await peer.closesWithin()).toBe(true);
    });

    it("a serpent CONNECT is answered in serpent", async () => {
      const peer = await client();
      const reply = await peer.handshake("probe", SerializerId.serpent);
      expect(reply.serializerId).toBe(SerializerId.serpent);
      expect(serializerById(SerializerId.serpent)!.decode(reply.payload)).toMatchObject({ handshake: "hello", meta: { methods: ["add", "explode", "text"], oneway: ["explode"], attrs: [] } });
    });

    it("a truncated header, then close: nothing breaks", async () => {
      const peer = await client();
      peer.send(connectBytes(steady).subarray(0, 17));
      peer.destroy();
      await peer.closed;
    });

    it("a peer that stalls (half a header, or nothing at all) is dropped after stallTimeout", async () => {
      const half = await client();
      half.send(connectBytes(steady).subarray(0, 20));
      const silent = await client();
      expect(await half.closesWithin(2000)).toBe(true);
      expect(await silent.closesWithin(2000)).toBe(true);
    });
  });

  describe("after the handshake", () => {
    it("an INVOKE whose payload does not decode: SerializeError reply, then the connection ends", async () => {
      const peer = await connected();
      peer.send(peer.message({ type: MessageType.invoke, serializerId: SerializerId.json, payload: "{garbage" }));
      const reply = await peer.next();
      expect(reply.flags & Flag.exception).toBe(Flag.exception);
      expect(decode(reply.payload)).toMatchObject({ __class__: "Pyro5.errors.SerializeError", __exception__: true });
      expect(await peer.closesWithin()).toBe(true);
    });

    it("an INVOKE that is not a call: ProtocolError reply, then the connection ends", async () => {
      const peer = await connected();
      peer.send(peer.message({ type: MessageType.invoke, serializerId: SerializerId.json, payload: "[1, 2]" }));
      expect(decode((await peer.next()).payload)).toMatchObject({ __class__: "Pyro5.errors.ProtocolError" });
      expect(await peer.closesWithin()).toBe(true);
    });

    it("an INVOKE in a serializer pyro-ts does not answer, or with a SerializedBlob: SerializeError, then the end", async () => {
      const marshal = await connected();
      marshal.send(marshal.message({ type: MessageType.invoke, serializerId: SerializerId.marshal, payload: "\x00" }));
      expect(decode((await marshal.next()).payload)).toMatchObject({ __class__: "Pyro5.errors.SerializeError" });
      expect(await marshal.closesWithin()).toBe(true);
      const blob = await connected();
      blob.send(blob.invokeMessage("probe", "add", [1, 2], { flags: Flag.keepSerialized }));
      expect(decode((await blob.next()).payload)).toMatchObject({ __class__: "Pyro5.errors.SerializeError" });
      expect(await blob.closesWithin()).toBe(true);
    });

    it("an INVOKE for an unknown object: DaemonError, and the connection goes on", async () => {
      const peer = await connected();
      const { value, exception } = await peer.invoke("no.such.object", "add", [1, 2]);
      expect(exception).toBe(true);
      expect(value).toMatchObject({ __class__: "Pyro5.errors.DaemonError", args: [expect.stringContaining("unknown object")] });
      expect((await peer.invoke("probe", "add", [1, 2])).value).toBe(3);
    });

    it("bad magic, or a second CONNECT: the connection ends without a reply, as in Pyro5", async () => {
      const magic = await connected();
      const bytes = magic.invokeMessage("probe", "add", [1, 2]);
      bytes.writeUInt16BE(0, 38);
      magic.send(bytes);
      expect(await magic.closesWithin()).toBe(true);
      await expect(magic.next(100)).rejects.toThrow(/closed/);
      const again = await connected();
      again.send(connectBytes(again));
      expect(await again.closesWithin()).toBe(true);
    });

    it("MSG_PING: pong with the same seq and serializer id, whatever it is", async () => {
      const peer = await connected();
      peer.send(peer.message({ type: MessageType.ping, serializerId: 42, seq: 777, payload: "ping" }));
      const pong = await peer.next();
      expect({ type: pong.type, serializerId: pong.serializerId, seq: pong.seq, payload: pong.payload.toString() }).toEqual({ type: MessageType.ping, serializerId: 42, seq: 777, payload: "pong" });
    });

    it("echoes sequence numbers and correlation ids, and makes a correlation id when there is none", async () => {
      const peer = await connected();
      const correlationId = Buffer.from("00112233445566778899aabbccddeeff", "hex");
      peer.send(peer.invokeMessage("probe", "add", [1, 1], { seq: 4242, correlationId }));
      const echoed = await peer.next();
      expect(echoed.seq).toBe(4242);
      expect(echoed.flags & Flag.correlationId).toBe(Flag.correlationId);
      expect(echoed.correlationId).toEqual(correlationId);
      peer.send(peer.invokeMessage("probe", "add", [1, 1], { seq: 0xffff }));
      const made = await peer.next();
      expect(made.seq).toBe(0xffff);
      expect(made.correlationId?.equals(Buffer.alloc(16))).toBe(false);
    });

    it("answers pipelined requests in order, and compressed ones", async () => {
      const peer = await connected();
      const compressed = peer.message({ type: MessageType.invoke, serializerId: SerializerId.json, flags: Flag.compressed, payload: jsonSerializer.encode({ object: "probe", method: "text", params: [500], kwargs: {} }) });
      peer.send(Buffer.concat([peer.invokeMessage("probe", "add", [1, 2]), peer.invokeMessage("probe", "add", [3, 4]), compressed]));
      const replies = [await peer.next(), await peer.next(), await peer.next()];
      expect(replies.map((reply) => decode(reply.payload))).toEqual([3, 7, "x".repeat(500)]);
      expect(replies[1]!.seq).toBe(replies[0]!.seq + 1);
    });

    it("a oneway call: no reply, its failure goes to onError, the next call is answered", async () => {
      const peer = await connected();
      peer.send(peer.invokeMessage("probe", "explode", [], { flags: Flag.oneway }));
      await expect.poll(() => reported.some((line) => line.includes("boom in a oneway call")), { timeout: 3000 }).toBe(true);
      expect((await peer.invoke("probe", "add", [2, 2])).value).toBe(4);
    });

    it("a proxy argument whose URI is no PYRO: URI: NamingError for that call, and the connection goes on", async () => {
      const peer = await connected();
      const proxy = { __class__: "Pyro5.client.Proxy", state: ["PYRONAME:lab.nowhere", [], [], [], "hello", null] };
      const { value, exception } = await peer.invoke("probe", "add", [proxy, 1]);
      expect(exception).toBe(true);
      expect(value).toMatchObject({ __class__: "Pyro5.errors.NamingError", args: [expect.stringContaining("is not a PYRO: URI")] });
      expect((await peer.invoke("probe", "add", [2, 3])).value).toBe(5);
    });

    it("keyword arguments: a TypeError that says why", async () => {
      const peer = await connected();
      const { value } = await peer.invoke("probe", "add", [], { kwargs: { a: 1, b: 2 } });
      expect(value).toMatchObject({ __class__: "builtins.TypeError", args: [expect.stringContaining("TypeScript has no keyword arguments")] });
    });
  });

  describe("the daemon's limits", () => {
    it("maxMessageSize: a bigger request ends its connection (reported); a bigger reply is a MessageTooLargeError", async () => {
      const peer = await connected();
      peer.send(peer.invokeMessage("probe", "text", ["y".repeat(70 * 1024)]));
      expect(await peer.closesWithin()).toBe(true);
      expect(reported.some((line) => line.includes("MessageTooLargeError"))).toBe(true);
      const other = await connected();
      const { value, exception } = await other.invoke("probe", "text", [70 * 1024]);
      expect(exception).toBe(true);
      expect(value).toMatchObject({ __class__: "Pyro5.errors.MessageTooLargeError" });
      expect((await other.invoke("probe", "add", [1, 2])).value).toBe(3);
    });
  });
});

describe("maxConnections counts Pyro5 and pyro-ts clients together", () => {
  let daemon: Daemon;
  const peers: RawPyro5Client[] = [];

  beforeAll(async () => {
    // Over the TCP transport a pyro-ts client that closes frees its slot at once (ZeroMQ tells nobody).
    daemon = new Daemon({ host: "127.0.0.1", port: 0, transport: "tcp", maxConnections: 2, pyro5: { port: 0 } });
    await daemon.start();
    daemon.register(new Probe(), "probe");
  });

  afterAll(async () => {
    for (const peer of peers) peer.destroy();
    await daemon?.close();
  });

  async function open(): Promise<RawPyro5Client> {
    const peer = await RawPyro5Client.open(daemon.pyro5Location.port);
    peers.push(peer);
    return peer;
  }

  /** A handshaken Pyro5 connection, tried again while the daemon still counts one that just went. */
  async function accepted(): Promise<RawPyro5Client> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const peer = await open();
      const reply = await peer.handshake("probe");
      if (reply.type === MessageType.connectOk) return peer;
      if (Date.now() > deadline) throw new Error(`refused: ${String(decodeReply(reply))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("refuses the connection past the limit with CONNECTFAIL, and takes one again when another went", async () => {
    const proxy = await connect<Probe>(daemon.uriFor("probe"));
    try {
      expect(await proxy.add(1, 1)).toBe(2);
      const first = await accepted();
      const refused = await open();
      const reply = await refused.handshake("probe");
      expect(reply.type).toBe(MessageType.connectFail);
      expect(decodeReply(reply)).toMatch(/serves 2 connections/);
      expect(await refused.closesWithin()).toBe(true);
      first.destroy();
      await first.closed;
      await accepted();
    } finally {
      await proxy.$close();
    }
  });

  it("a pyro-ts client is refused while Pyro5 clients fill the daemon", async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    await accepted();
    await accepted();
    await expect(connect<Probe>(daemon.uriFor("probe"), { timeout: 3000 })).rejects.toThrow(LimitExceededError);
  });
});

const python = pyro5Unavailable();

describe.skipIf(python !== undefined)(`a Python Pyro5 client after the garbage${python ? ` (skipped: ${python})` : ""}`, () => {
  it("is served", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
    await daemon.start();
    try {
      daemon.register(new Probe(), "probe");
      const junk = await RawPyro5Client.open(daemon.pyro5Location.port);
      junk.send(Buffer.from("PYRO\x01\xf6garbage garbage garbage garbage garbage", "latin1"));
      await junk.closesWithin();
      junk.destroy();
      for (const serializer of [{}, { PYRO_SERIALIZER: "json" }] as Record<string, string>[]) {
        const run = await runPython("call_once.py", [daemon.pyro5UriFor("probe"), "add", "[40, 2]"], { env: serializer });
        expect(JSON.parse(run.stdout)).toEqual({ ok: 42 });
      }
    } finally {
      await daemon.close();
    }
  });
});
