import { mkdtempSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveTransportOptions } from "../src/transport/options.js";
import { encodeFrames, PREAMBLE } from "../src/transport/tcp/frame-codec.js";
import { TcpClient } from "../src/transport/tcp/tcp-client.js";
import { TcpServer } from "../src/transport/tcp/tcp-server.js";
import { until } from "./host-processes.js";

const options = resolveTransportOptions({ heartbeatInterval: 100, heartbeatTimeout: 400, maxMessageSize: 1024 * 1024 });
const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** A server that echoes every message back to its sender, and counts who came and went. */
async function echoServer(endpoint = "tcp://127.0.0.1:0"): Promise<{ server: TcpServer; gone: Buffer[] }> {
  const server = await TcpServer.listen(endpoint, options);
  const gone: Buffer[] = [];
  server.start(
    (peer, peerId, frames) => {
      // The id string is the identity's latin1 text, made once per connection.
      if (peerId !== peer.toString("latin1")) throw new Error(`peer id ${JSON.stringify(peerId)} is not the identity's latin1 text`);
      server.send(peer, frames);
    },
    (peer, peerId) => void gone.push(peerId === peer.toString("latin1") ? peer : Buffer.from("wrong peer id")),
  );
  closers.push(() => server.close());
  return { server, gone };
}

/** A client collecting what it receives and its connection events. */
function client(endpoint: string) {
  const received: string[][] = [];
  const events: string[] = [];
  const tcp = new TcpClient(endpoint, options, {
    onConnect: () => void events.push("connect"),
    onDisconnect: () => void events.push("disconnect"),
    onMessage: (frames) => void received.push(frames.map((f) => f.toString("latin1"))),
    onSecurityError: () => void events.push("security"),
    onConnectFailed: () => void events.push("failed"),
  });
  closers.push(() => tcp.close());
  return { tcp, received, events };
}

function raw(endpoint: string): Socket {
  const port = Number(/:(\d+)$/.exec(endpoint)![1]);
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  // Read (and drop) what the server sends, so its closing is seen.
  socket.resume();
  closers.push(() => void socket.destroy());
  return socket;
}

describe("TCP transport", () => {
  it("carries frame arrays both ways, in order, many in flight", async () => {
    const { server } = await echoServer();
    const c = client(server.endpoint);
    expect(await until(() => c.tcp.connected, 2000)).toBe(true);
    for (let i = 0; i < 5000; i++) await c.tcp.send(["header", `body ${i}`, Buffer.from([i & 0xff])]);
    expect(await until(() => c.received.length === 5000, 5000)).toBe(true);
    expect(c.received[4999]).toEqual(["header", "body 4999", String.fromCharCode(4999 & 0xff)]);
    expect(c.received.map((m) => m[1])).toEqual(Array.from({ length: 5000 }, (_, i) => `body ${i}`));
  });

  it("works over a Unix socket", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "pyro-tcp-")), "daemon.sock");
    await echoServer(`ipc://${path}`);
    const c = client(`ipc://${path}`);
    expect(await until(() => c.tcp.connected, 2000)).toBe(true);
    await c.tcp.send(["over", "unix"]);
    expect(await until(() => c.received.length === 1, 2000)).toBe(true);
  });

  it("tells a connect where nothing listens at once", async () => {
    const { server } = await echoServer();
    const endpoint = server.endpoint;
    await server.close();
    closers.pop();
    const c = client(endpoint);
    expect(await until(() => c.events.includes("failed"), 2000)).toBe(true);
    expect(c.tcp.connected).toBe(false);
  });

  it("drops garbage, a 4 GiB length prefix and a slowloris, and serves everyone else", async () => {
    const { server, gone } = await echoServer();
    const good = client(server.endpoint);
    expect(await until(() => good.tcp.connected, 2000)).toBe(true);
    const http = raw(server.endpoint);
    http.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const huge = raw(server.endpoint);
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32BE(1, 0);
    prefix.writeUInt32BE(0xffff_ffff, 4);
    huge.write(Buffer.concat([PREAMBLE, prefix]));
    const slow = raw(server.endpoint);
    const message = Buffer.concat([PREAMBLE, ...encodeFrames(["a".repeat(1000)])]);
    let sent = 0;
    const trickle = setInterval(() => sent < message.length && slow.write(message.subarray(sent, ++sent)), 20);
    closers.push(() => clearInterval(trickle));
    const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await Promise.all([closed(http), closed(huge), closed(slow)]);
    expect(sent).toBeLessThan(message.length);
    expect(gone.length).toBeGreaterThanOrEqual(3);
    await good.tcp.send(["still", "served"]);
    expect(await until(() => good.received.length === 1, 2000)).toBe(true);
  });

  it("drops a peer that falls silent, and keeps one that only sends heartbeats", async () => {
    const { server, gone } = await echoServer();
    const quiet = client(server.endpoint); // sends nothing but heartbeats
    const silent = raw(server.endpoint);
    silent.write(PREAMBLE);
    await new Promise((resolve) => silent.once("close", resolve));
    expect(gone).toHaveLength(1);
    expect(quiet.tcp.connected).toBe(true);
  });

  it("reconnects when the server comes back on the same port", async () => {
    const { server } = await echoServer();
    const endpoint = server.endpoint;
    const c = client(endpoint);
    expect(await until(() => c.tcp.connected, 2000)).toBe(true);
    await server.close();
    closers.shift();
    expect(await until(() => c.events.includes("disconnect"), 2000)).toBe(true);
    await echoServer(endpoint);
    expect(await until(() => c.events.filter((e) => e === "connect").length === 2, 3000)).toBe(true);
    await c.tcp.send(["again"]);
    expect(await until(() => c.received.length === 1, 2000)).toBe(true);
  });
});
