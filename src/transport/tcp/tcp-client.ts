import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { ConnectionClosedError, SecurityError } from "../../errors.js";
import { fingerprintOf, type TlsIdentity } from "../tls/tls-identity.js";
import type { OutFrame } from "./frame-codec.js";
import type { ResolvedTransportOptions } from "../options.js";
import { connectOptions, parseTcpEndpoint, type TcpEndpoint } from "./tcp-endpoint.js";
import { TcpConnection } from "./tcp-connection.js";
import type { ClientTransport, ClientTransportEvents, SendReceipt } from "../transport.js";

/** TLS for a proxy: the daemon's fingerprint (from its URI), and this client's identity when the daemon admits only some. */
export interface ClientTls {
  readonly fingerprint: string;
  readonly identity?: TlsIdentity;
}

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
  readonly #events: ClientTransportEvents;
  readonly #tls: ClientTls | undefined;
  #connection: TcpConnection | undefined;
  #everConnected = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #backoff = RECONNECT_MS;

  constructor(endpoint: string, options: ResolvedTransportOptions, events: ClientTransportEvents, tls?: ClientTls) {
    this.endpoint = endpoint;
    this.#where = parseTcpEndpoint(endpoint);
    this.#options = options;
    this.#events = events;
    this.#tls = tls;
    this.#dial();
  }

  get connected(): boolean {
    return this.#connection?.open === true;
  }

  /** Written at once (or within the tick): `receipt` is told before this returns. */
  send(frames: OutFrame[], receipt?: SendReceipt): void {
    if (this.#closed || !this.#connection) {
      receipt?.sent(new ConnectionClosedError(`connection to ${this.endpoint} is ${this.#closed ? "closed" : "down"}`));
      return;
    }
    this.#connection.send(frames);
    receipt?.sent(undefined);
  }

  /** Closes; what was written still leaves (the kernel sends it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#connection?.end();
  }

  #open(): Socket {
    const where = connectOptions(this.#where);
    const tls = this.#tls;
    if (!tls) return netConnect(where);
    // The daemon is known by the fingerprint its URI carries, not by an authority or a host name.
    const socket = tlsConnect({ ...where, minVersion: "TLSv1.3", rejectUnauthorized: false, checkServerIdentity: () => undefined, ...(tls.identity && { key: tls.identity.key, cert: tls.identity.cert }) });
    socket.once("secureConnect", () => {
      const certificate = socket.getPeerX509Certificate();
      if (!certificate || fingerprintOf(certificate) !== tls.fingerprint) {
        socket.destroy(new SecurityError(`the daemon at ${this.endpoint} is not the one its URI names (TLS fingerprint ${certificate ? fingerprintOf(certificate) : "none"}, expected ${tls.fingerprint})`));
      }
    });
    return socket;
  }

  #dial(): void {
    const socket = this.#open();
    let reached = false;
    socket.once(this.#tls ? "secureConnect" : "connect", () => (reached = true));
    let opened = false;
    const connection = new TcpConnection(socket, this.#options, {
      onOpen: () => {
        opened = true;
        this.#everConnected = true;
        this.#backoff = RECONNECT_MS;
        this.#events.onConnect();
      },
      onMessage: (frames) => this.#events.onMessage(frames),
      onClose: (reason) => {
        if (this.#connection === connection) this.#connection = undefined;
        if (opened) this.#events.onDisconnect();
        const refused = opened ? undefined : securityProblem(reason, reached, this.endpoint, this.#tls !== undefined);
        if (refused) this.#events.onSecurityError(refused);
        else if (!opened && !this.#everConnected) this.#events.onConnectFailed();
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

/**
 * Why a connection that never opened was refused, when it was: a SecurityError as such, a
 * failed TLS handshake, or a daemon that took the connection and closed it without a greeting
 * (it expects TLS, or something else listens there).
 */
function securityProblem(reason: Error | undefined, reached: boolean, endpoint: string, tls: boolean): SecurityError | undefined {
  if (reason instanceof SecurityError) return reason;
  const code = (reason as { code?: string } | undefined)?.code ?? "";
  if (tls && (code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS") || /handshake|ssl|tls/i.test(reason?.message ?? ""))) {
    return new SecurityError(`the TLS handshake with ${endpoint} failed (does the daemon use TLS?): ${reason?.message}`);
  }
  if (reached && reason === undefined) {
    return new SecurityError(`the daemon at ${endpoint} closed the connection before greeting it${tls ? "" : " (does it require TLS, a URI with tls=? is it a ZeroMQ daemon?)"}`);
  }
  return undefined;
}
