/**
 * A Pyro5 "daemon" that misbehaves (a raw node:net server on loopback): the pyro-ts Pyro5 client
 * fails the call with a typed error, drops only that connection, and works again with a daemon
 * that answers properly. No Python needed.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CommunicationError, ProtocolError, pyro5, TimeoutError } from "../src/index.js";
import { Flag, MessageType, SerializerId } from "../src/pyro5/wire/constants.js";
import { encodePyro5Message } from "../src/pyro5/wire/message.js";
import { Pyro5MessageReader } from "../src/pyro5/wire/message-reader.js";
import { jsonSerializer } from "../src/pyro5/wire/serializer.js";

type Behaviour = (request: { type: number; seq: number; payload: unknown }, socket: Socket) => void;

const servers: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  // The server's side of connections a client keeps open: closing the server waits for them.
  for (const socket of sockets) socket.destroy();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A server answering the handshake properly, then each INVOKE with `onInvoke`. */
async function daemon(onInvoke: Behaviour): Promise<string> {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const reader = new Pyro5MessageReader({ maxMessageSize: 1 << 20 });
    socket.on("data", (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const request = { type: message.type, seq: message.seq, payload: jsonSerializer.decode(message.payload) };
        if (message.type === MessageType.connect) {
          const meta = { methods: ["add"], oneway: [], attrs: [] };
          socket.write(encodePyro5Message({ type: MessageType.connectOk, serializerId: SerializerId.json, seq: message.seq, payload: jsonSerializer.encode({ handshake: "hello", meta }) }));
        } else onInvoke(request, socket);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return `PYRO:obj@127.0.0.1:${address.port}`;
}

const result = (seq: number, value: unknown, flags = 0): Buffer =>
  encodePyro5Message({ type: MessageType.result, serializerId: SerializerId.json, flags, seq, payload: jsonSerializer.encode(value) });

describe("the Pyro5 client against a misbehaving daemon", () => {
  it("refuses a daemon that answers the handshake with garbage, with a ProtocolError", async () => {
    // resume(): a socket nobody reads never sees the client's end, and would keep the server open.
    const server = createServer((socket) => socket.resume().end(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await expect(pyro5.connect(`PYRO:obj@127.0.0.1:${port}`)).rejects.toBeInstanceOf(ProtocolError);
  });

  it.each([
    ["bad magic", (seq: number) => Buffer.concat([result(seq, 1).subarray(0, 38), Buffer.from([0, 0]), result(seq, 1).subarray(40)])],
    ["a reply out of sequence", (seq: number) => result(seq + 7, 1)],
    ["a payload that is not json", (seq: number) => encodePyro5Message({ type: MessageType.result, serializerId: SerializerId.json, seq, payload: Buffer.from("{nope") })],
    ["another serializer than the request's", (seq: number) => encodePyro5Message({ type: MessageType.result, serializerId: SerializerId.serpent, seq, payload: Buffer.from("1") })],
    ["an exception flag on something that is no exception", (seq: number) => result(seq, 42, Flag.exception)],
  ])("fails the call on %s with a typed error, and the next call works on a new connection", async (_what, reply) => {
    let calls = 0;
    const uri = await daemon((request, socket) => {
      calls++;
      socket.write(calls === 1 ? reply(request.seq) : result(request.seq, 5));
    });
    const proxy = await pyro5.connect<{ add(a: number, b: number): number }>(uri);
    try {
      await expect(proxy.add(2, 3)).rejects.toBeInstanceOf(CommunicationError);
      expect(await proxy.add(2, 3)).toBe(5);
    } finally {
      await proxy.$close();
    }
  });

  it("times a daemon out that never answers, and keeps serving other calls on other connections", async () => {
    let calls = 0;
    const uri = await daemon((request, socket) => {
      if (++calls > 1) socket.write(result(request.seq, 5));
    });
    const proxy = await pyro5.connect<{ add(a: number, b: number): number }>(uri, { timeout: 300 });
    try {
      const silent = proxy.add(1, 1);
      expect(await proxy.add(2, 3)).toBe(5);
      await expect(silent).rejects.toBeInstanceOf(TimeoutError);
    } finally {
      await proxy.$close();
    }
  });
});
