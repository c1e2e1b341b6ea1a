import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { fingerprintOf, type TlsIdentity } from "../tls/tls-identity.js";
import { REFUSAL } from "./frame-codec.js";
import { DaemonError } from "../../errors.js";
import type { OutFrame } from "./frame-codec.js";
import type { ResolvedTransportOptions } from "../options.js";
import { formatTcpEndpoint, listenOptions, parseTcpEndpoint, type TcpEndpoint } from "./tcp-endpoint.js";
import { TcpConnection } from "./tcp-connection.js";
import type { ServerDisconnectHandler, ServerMessageHandler, ServerTransport } from "../transport.js";

/** TLS for a daemon: its identity, and the client fingerprints it admits (any client when absent). */
export interface ServerTls {
  readonly identity: TlsIdentity;
  readonly authorized?: { has(fingerprint: string): boolean };
}

/** How long close() lets the last replies leave before it cuts connections. */
const CLOSE_FLUSH_MS = 1000;

/**
 * A daemon's listening side of the TCP transport: one TcpConnection per client, each with
 * an id of its own (as a ZeroMQ ROUTER gives a routing id). Messages to a peer that is gone
 * are dropped. Connections made before start() wait, paused. Node listens asynchronously:
 * on port 0 the port is known once `ready`.
 */
export class TcpServer implements ServerTransport {
  readonly #server: Server;
  readonly #options: ResolvedTransportOptions;
  /** By the number in each peer id (bytes 1-4), so a send needs no string. */
  readonly #connections = new Map<number, TcpConnection>();
  readonly #waiting: Socket[] = [];
  readonly ready: Promise<void>;
  #handler: ServerMessageHandler | undefined;
  #onDisconnect: ServerDisconnectHandler | undefined;
  #nextId = 1;
  readonly #requested: TcpEndpoint;
  #bound: string | undefined;

  /** Listens on `tcp://host:port` (port 0: a free one) or `ipc:///path`. */
  constructor(endpoint: string, options: ResolvedTransportOptions, tls?: ServerTls) {
    this.#requested = parseTcpEndpoint(endpoint);
    this.#options = options;
    const arrived = (socket: Socket): void => {
      if (this.#handler) this.#accept(socket);
      else this.#waiting.push(socket.pause());
    };
    if (tls) {
      // Client certificates are asked for and checked here, by fingerprint: no authority signs them.
      const server = createTlsServer({ key: tls.identity.key, cert: tls.identity.cert, requestCert: true, rejectUnauthorized: false, minVersion: "TLSv1.3", noDelay: true });
      server.on("secureConnection", (socket: TLSSocket) => {
        if (admitted(socket, tls)) arrived(socket);
        else socket.end(REFUSAL, () => socket.destroy());
      });
      // A client that cannot do TLS (or a plaintext one) is dropped by node; nothing to report.
      server.on("tlsClientError", () => {});
      this.#server = server;
    } else {
      this.#server = createServer({ noDelay: true });
      this.#server.on("connection", arrived);
    }
    this.ready = new Promise<void>((resolve, reject) => {
      this.#server.once("error", (error) => reject(new DaemonError(`cannot listen on ${endpoint}: ${error.message}`, { cause: error })));
      this.#server.listen(listenOptions(this.#requested), () => {
        const address = this.#server.address();
        this.#bound = address && typeof address === "object" ? formatTcpEndpoint({ host: address.address, port: address.port }) : endpoint;
        resolve();
      });
    });
    // Whoever awaits `ready` sees the failure; nobody awaiting it is no crash.
    this.ready.catch(() => {});
  }

  /** Listens and waits until it does. */
  static async listen(endpoint: string, options: ResolvedTransportOptions): Promise<TcpServer> {
    const server = new TcpServer(endpoint, options);
    await server.ready;
    return server;
  }

  /** The bound endpoint: with the real port once `ready`; before, the one asked for unless its port is 0. */
  get endpoint(): string {
    if (this.#bound) return this.#bound;
    const requested = this.#requested;
    if ("port" in requested && requested.port === 0) throw new DaemonError("a TCP daemon on port 0 knows its port once started: await daemon.start() first");
    return formatTcpEndpoint(requested);
  }

  /** Starts delivering messages; `handler` must not throw. `onDisconnect` tells a connection that ended. */
  start(handler: ServerMessageHandler, onDisconnect?: ServerDisconnectHandler): void {
    this.#handler = handler;
    this.#onDisconnect = onDisconnect;
    for (const socket of this.#waiting.splice(0)) this.#accept(socket.resume());
  }

  /** Sends a message to `peer`; a peer that is gone is no error (the message is dropped). */
  send(peer: Uint8Array, frames: OutFrame[]): void {
    if (peer.length === 5) this.#connections.get(((peer[1]! << 24) | (peer[2]! << 16) | (peer[3]! << 8) | peer[4]!) >>> 0)?.send(frames);
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
    if (this.#server.listening) await closed;
  }

  #accept(socket: Socket): void {
    const id = this.#nextId++ >>> 0;
    const peer = Buffer.alloc(5);
    peer.writeUInt32BE(id, 1);
    const peerId = peer.toString("latin1");
    const connection = new TcpConnection(socket, this.#options, {
      onOpen: () => {},
      onMessage: (frames) => {
        try {
          this.#handler!(peer, peerId, frames);
        } catch (error) {
          process.emitWarning(`a message could not be handled: ${String(error)}`, "PyroDaemonWarning");
        }
      },
      onClose: () => {
        this.#connections.delete(id);
        this.#onDisconnect?.(peer, peerId);
      },
    });
    this.#connections.set(id, connection);
  }
}

function admitted(socket: TLSSocket, tls: ServerTls): boolean {
  if (!tls.authorized) return true;
  const certificate = socket.getPeerX509Certificate();
  return certificate !== undefined && tls.authorized.has(fingerprintOf(certificate));
}
