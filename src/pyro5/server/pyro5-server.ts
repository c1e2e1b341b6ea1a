/**
 * Serves a daemon's objects to Python Pyro5 clients on a plain TCP port (Pyro5's wire
 * protocol 502, no ZeroMQ): one ServedConnection per client, counted against the daemon's
 * maxConnections, every request run through the daemon's ObjectHost so its rules and limits
 * hold. The daemon starts it after its own sockets and closes it first (named-daemon.ts).
 */
import { createServer, type Server, type Socket } from "node:net";
import { advertised } from "../../daemon/bound-location.js";
import type { ObjectHost } from "../../daemon/object-host.js";
import { DaemonError } from "../../errors.js";
import { formatUri, type TcpLocation } from "../../uri.js";
import { Pyro5MessageReader } from "../wire/message-reader.js";
import { jsonSerializer } from "../wire/serializer.js";
import { connectFailure, connectMessage } from "./replies.js";
import { ServedConnection } from "./served-connection.js";

export interface Pyro5ServerOptions {
  /** TCP port for Pyro5 clients; 0 picks a free one (then see `location`). */
  readonly port: number;
  /** Host or IP to bind. Default 127.0.0.1 (the daemon passes its own host). */
  readonly host?: string;
  /** Host to put in `PYRO:` URIs instead of the bound one (for 0.0.0.0: this machine's first external address). */
  readonly advertisedHost?: string;
  /**
   * An item stream a Python client has not pulled for this many ms is ended (its generator's
   * AbortSignal aborted, its `finally` run); a later pull gets "item stream terminated".
   * 0: never. Default 600000 (10 minutes).
   */
  readonly streamIdleTimeout?: number;
  /**
   * A connection that has not completed its handshake, or has begun a message, and sends less
   * than 64 KiB in this many ms is dropped (a dead or deliberately slow peer holding a slot).
   * Idle connected clients are kept, as Pyro5 keeps them. Default 30000.
   */
  readonly stallTimeout?: number;
}

/** Connections over the daemon's limit told why at once; beyond this many, cut without a word. */
const REFUSING_AT_ONCE = 64;
/** How long a refused connection may take to send its CONNECT (to be answered CONNECTFAIL). */
const REFUSAL_WAIT_MS = 5000;
/** A refused connection's CONNECT is read up to this size, no further. */
const REFUSAL_READ_LIMIT = 64 * 1024;

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`pyro5.${name} must be an integer >= 0, got ${String(value)}`);
  return value;
}

export class Pyro5Server {
  readonly #host: ObjectHost;
  readonly #server: Server;
  readonly #bind: { readonly host: string; readonly port: number };
  readonly #advertisedHost: string | undefined;
  readonly #streamIdleTimeout: number;
  readonly #stallTimeout: number;
  readonly #connections = new Set<ServedConnection>();
  readonly #refusing = new Set<Socket>();
  #location: TcpLocation | undefined;
  #closing: Promise<void> | undefined;

  /** Checks the options; listens on start(). */
  constructor(host: ObjectHost, options: Pyro5ServerOptions) {
    const port = options.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`pyro5.port must be an integer 0-65535, got ${String(port)}`);
    this.#host = host;
    this.#bind = { host: options.host ?? "127.0.0.1", port };
    this.#advertisedHost = options.advertisedHost;
    this.#streamIdleTimeout = nonNegative("streamIdleTimeout", options.streamIdleTimeout, 600_000);
    this.#stallTimeout = nonNegative("stallTimeout", options.stallTimeout, 30_000) || 30_000;
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
  }

  /** Listens; DaemonError when the port cannot be had. */
  start(): Promise<void> {
    const { host, port } = this.#bind;
    return new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void => reject(new DaemonError(`cannot listen for Pyro5 clients on ${host}:${port}: ${error.message}`, { cause: error }));
      this.#server.once("error", failed);
      this.#server.listen({ host, port }, () => {
        this.#server.off("error", failed);
        this.#server.on("error", (error) => this.#host.report(error, "the Pyro5 server's socket failed"));
        const address = this.#server.address();
        const bound: TcpLocation = address && typeof address === "object" ? { transport: "tcp", host: address.address, port: address.port } : { transport: "tcp", host, port };
        this.#location = advertised(bound, this.#advertisedHost) as TcpLocation;
        resolve();
      });
    });
  }

  /** Where Python clients reach the daemon (known once started). */
  get location(): TcpLocation {
    if (!this.#location) throw new DaemonError("the Pyro5 server knows its address once the daemon has started");
    return this.#location;
  }

  /** `PYRO:<objectId>@<host>:<port>`, the URI a Python Pyro5 proxy takes. */
  uriFor(objectId: string): string {
    return formatUri({ protocol: "PYRO", object: objectId, location: this.location });
  }

  /** Pyro5 clients connected now. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting; each connection answers the requests it has read (a closing daemon
   * refuses them, and answers calls still running when its closeTimeout ends), then ends.
   * Resolves when every connection is gone. Does not wait itself for calls: the daemon does.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#refusing) socket.destroy();
    const connections = [...this.#connections];
    for (const connection of connections) connection.shutdown();
    await Promise.all(connections.map((connection) => connection.closed));
    if (this.#location) await stopped;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    let peerId: string;
    try {
      peerId = this.#host.connectionOpened();
    } catch (error) {
      this.#refuse(socket, error instanceof Error ? error.message : String(error));
      return;
    }
    const connection = new ServedConnection(socket, this.#host, peerId, {
      stallTimeout: this.#stallTimeout,
      streamIdleTimeout: this.#streamIdleTimeout,
      describe: () => `${this.#host.describe()}; Pyro5 clients served on ${this.#location ? `${this.#location.host}:${this.#location.port}` : "?"}`,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }

  /** A connection over the daemon's limit: its CONNECT is answered CONNECTFAIL with the reason (what a Python proxy then raises), then it ends. */
  #refuse(socket: Socket, reason: string): void {
    if (this.#refusing.size >= REFUSING_AT_ONCE) {
      socket.destroy();
      return;
    }
    this.#refusing.add(socket);
    const reader = new Pyro5MessageReader({ maxMessageSize: REFUSAL_READ_LIMIT });
    const timer = setTimeout(() => socket.destroy(), REFUSAL_WAIT_MS).unref();
    const answer = (reply: Buffer): void => {
      socket.removeAllListeners("data");
      socket.end(reply);
    };
    socket.on("data", (chunk: Buffer) => {
      try {
        const [request] = reader.push(chunk);
        if (request) answer(connectMessage(request, jsonSerializer, false, reason));
      } catch {
        answer(connectFailure(reason));
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      this.#refusing.delete(socket);
    });
  }
}
