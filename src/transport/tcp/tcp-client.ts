import { connect as netConnect } from "node:net";
import { ConnectionClosedError } from "../../errors.js";
import type { OutFrame } from "./frame-codec.js";
import type { ResolvedTransportOptions } from "../options.js";
import type { ClientSocketEvents } from "../client-socket.js";
import { connectOptions, parseTcpEndpoint, type TcpEndpoint } from "./tcp-endpoint.js";
import { TcpConnection } from "./tcp-connection.js";
import type { ClientTransport } from "../transport.js";

const RECONNECT_MS = 100;
const RECONNECT_MAX_MS = 1000;

/**
 * A proxy's connection to a daemon over the TCP transport: connects, reconnects after a
 * loss with backoff (100 ms doubling to 1 s), and tells its channel as a ZeroMQ DEALER's
 * events would (connected once the daemon's preamble arrived).
 */
export class TcpClient implements ClientTransport {
  readonly endpoint: string;
  readonly #where: TcpEndpoint;
  readonly #options: ResolvedTransportOptions;
  readonly #events: ClientSocketEvents;
  #connection: TcpConnection | undefined;
  #everConnected = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #backoff = RECONNECT_MS;

  constructor(endpoint: string, options: ResolvedTransportOptions, events: ClientSocketEvents) {
    this.endpoint = endpoint;
    this.#where = parseTcpEndpoint(endpoint);
    this.#options = options;
    this.#events = events;
    this.#dial();
  }

  get connected(): boolean {
    return this.#connection?.open === true;
  }

  send(frames: OutFrame[]): Promise<void> {
    if (this.#closed || !this.#connection) return Promise.reject(new ConnectionClosedError(`connection to ${this.endpoint} is ${this.#closed ? "closed" : "down"}`));
    this.#connection.send(frames);
    return Promise.resolve();
  }

  /** Closes; what was written still leaves (the kernel sends it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#connection?.end();
  }

  #dial(): void {
    const socket = netConnect(connectOptions(this.#where));
    let opened = false;
    const connection = new TcpConnection(socket, this.#options, {
      onOpen: () => {
        opened = true;
        this.#everConnected = true;
        this.#backoff = RECONNECT_MS;
        this.#events.onConnect();
      },
      onMessage: (frames) => this.#events.onMessage(frames),
      onClose: () => {
        if (this.#connection === connection) this.#connection = undefined;
        if (opened) this.#events.onDisconnect();
        else if (!this.#everConnected) this.#events.onConnectFailed();
        if (!this.#closed) this.#retry = setTimeout(() => this.#dial(), this.#nextBackoff());
      },
    });
    this.#connection = connection;
  }

  #nextBackoff(): number {
    const wait = this.#backoff;
    this.#backoff = Math.min(RECONNECT_MAX_MS, this.#backoff * 2);
    return wait;
  }
}
