import { createServer, type Server, type Socket } from "node:net";
import { DaemonError } from "../../errors.js";
import type { OutFrame } from "./frame-codec.js";
import type { ResolvedTransportOptions } from "../options.js";
import { formatTcpEndpoint, listenOptions, parseTcpEndpoint } from "./tcp-endpoint.js";
import { TcpConnection } from "./tcp-connection.js";

/** Receives one message: the peer's id and its frames. */
export type TcpMessageHandler = (peer: Buffer, frames: Buffer[]) => void;

/** How long close() lets the last replies leave before it cuts connections. */
const CLOSE_FLUSH_MS = 1000;

/**
 * A daemon's listening side of the TCP transport: one TcpConnection per client, each with
 * an id of its own (as a ZeroMQ ROUTER gives a routing id). Messages to a peer that is gone
 * are dropped. Connections made before start() wait, paused.
 */
export class TcpServer {
  readonly #server: Server;
  readonly #options: ResolvedTransportOptions;
  readonly #connections = new Map<string, TcpConnection>();
  readonly #waiting: Socket[] = [];
  #handler: TcpMessageHandler | undefined;
  #onDisconnect: ((peer: Buffer) => void) | undefined;
  #nextId = 1;
  #endpoint = "";

  private constructor(server: Server, options: ResolvedTransportOptions) {
    this.#server = server;
    this.#options = options;
    server.on("connection", (socket) => {
      if (this.#handler) this.#accept(socket);
      else this.#waiting.push(socket.pause());
    });
  }

  /** Listens on `tcp://host:port` (port 0: a free one) or `ipc:///path`. */
  static async listen(endpoint: string, options: ResolvedTransportOptions): Promise<TcpServer> {
    const where = parseTcpEndpoint(endpoint);
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error) => reject(new DaemonError(`cannot listen on ${endpoint}: ${error.message}`, { cause: error })));
      server.listen(listenOptions(where), () => resolve());
    });
    const transport = new TcpServer(server, options);
    const address = server.address();
    transport.#endpoint = address && typeof address === "object" ? formatTcpEndpoint({ host: address.address, port: address.port }) : endpoint;
    return transport;
  }

  /** The bound endpoint, with the real port. */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** Starts delivering messages; `handler` must not throw. `onDisconnect` tells a connection that ended. */
  start(handler: TcpMessageHandler, onDisconnect?: (peer: Buffer) => void): void {
    this.#handler = handler;
    this.#onDisconnect = onDisconnect;
    for (const socket of this.#waiting.splice(0)) this.#accept(socket.resume());
  }

  /** Sends a message to `peer`; a peer that is gone is no error (the message is dropped). */
  send(peer: Uint8Array, frames: OutFrame[]): Promise<void> {
    this.#connections.get(Buffer.from(peer.buffer, peer.byteOffset, peer.byteLength).toString("latin1"))?.send(frames);
    return Promise.resolve();
  }

  /** Stops accepting, lets what was written leave (bounded), then closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    const connections = [...this.#connections.values()];
    for (const connection of connections) connection.end();
    const deadline = Date.now() + CLOSE_FLUSH_MS;
    while (connections.some((c) => c.open) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const connection of connections) connection.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    const peer = Buffer.alloc(5);
    peer.writeUInt32BE(this.#nextId++ >>> 0, 1);
    const peerId = peer.toString("latin1");
    const connection = new TcpConnection(socket, this.#options, {
      onOpen: () => {},
      onMessage: (frames) => {
        try {
          this.#handler!(peer, frames);
        } catch (error) {
          process.emitWarning(`a message could not be handled: ${String(error)}`, "PyroDaemonWarning");
        }
      },
      onClose: () => {
        this.#connections.delete(peerId);
        this.#onDisconnect?.(peer);
      },
    });
    this.#connections.set(peerId, connection);
  }
}
