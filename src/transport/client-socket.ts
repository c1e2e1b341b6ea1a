import { Dealer } from "zeromq";
import { ConnectionClosedError, SecurityError } from "../errors.js";
import type { CurveKeyPair } from "./curve.js";
import type { OutFrame } from "../protocol/frames.js";
import { batchBudget, type ResolvedTransportOptions } from "./options.js";
import { afterPromiseCallbacks } from "./after-callbacks.js";
import { SendQueue } from "./send-queue.js";
import { commonSocketOptions } from "./socket-options.js";
import type { ClientTransport, ClientTransportEvents, SendReceipt } from "./transport.js";

const DRAIN_TIMEOUT_MS = 1000;
/** How long a closing connection lets its last messages leave. */
const CLOSE_FLUSH_MS = 200;

/** CURVE for a proxy: the daemon's public key (from its URI) and our key pair. */
export interface ClientCurve {
  readonly serverKey: string;
  readonly keys: CurveKeyPair;
}

/**
 * One DEALER connected to one daemon endpoint. ZeroMQ reconnects after a loss. The
 * channel above hands messages over only while connected, so little is queued for a
 * connection that is down. (Not `immediate`: it discards replies still unread when the
 * connection closes, such as the last replies of a daemon shutting down.)
 */
export class ClientSocket implements ClientTransport {
  readonly #dealer: Dealer;
  readonly #queue: SendQueue;
  readonly #loop: Promise<void>;
  #connected = false;
  /** The loss of the previous connection, when not declared yet. */
  #pendingLoss: (() => void) | undefined;
  readonly endpoint: string;

  constructor(endpoint: string, options: ResolvedTransportOptions, events: ClientTransportEvents, batch?: (messages: OutFrame[][]) => OutFrame[], curve?: ClientCurve) {
    this.endpoint = endpoint;
    this.#dealer = new Dealer({
      ...commonSocketOptions(options, endpoint),
      // libzmq ends a connection for good on a frame over its limit (no reconnect): the
      // channel checks reply sizes itself and fails just that call.
      maxMessageSize: -1,
      reconnectInterval: 100,
      reconnectMaxInterval: 1000,
      ...(curve && { curveServerKey: curve.serverKey, curvePublicKey: curve.keys.publicKey, curveSecretKey: curve.keys.secretKey }),
    });
    this.#queue = new SendQueue(this.#dealer, batch && { sameBatch: () => true, combine: batch, maxBytes: batchBudget(options) });
    // The observer must exist before connect() to see the first handshake.
    this.#dealer.events.on("handshake", () => {
      // A loss still waiting for the old connection's last replies is declared first.
      this.#pendingLoss?.();
      this.#connected = true;
      events.onConnect();
    });
    const securityError = (what: string) => (event: { error?: Error }) => {
      events.onSecurityError(new SecurityError(`${what} with ${endpoint}: ${event.error?.message ?? "handshake failed"}`));
    };
    this.#dealer.events.on("handshake:error:auth", securityError("the daemon refused this client's key"));
    // A mechanism mismatch (CURVE on one side only) is a protocol error of the handshake.
    this.#dealer.events.on("handshake:error:protocol", securityError("the security handshake failed (CURVE keys on one side only?)"));
    // With CURVE, a wrong server key shows as a broken handshake; without, that is only a lost connection.
    if (curve) this.#dealer.events.on("handshake:error:other", securityError("the security handshake failed (is the server key right?)"));
    // A TCP connection that then fails its handshake is something listening: not "nothing there".
    let reachedPeer = false;
    this.#dealer.events.on("connect", () => (reachedPeer = true));
    this.#dealer.events.on("connect:retry", () => {
      if (!reachedPeer) events.onConnectFailed();
    });
    this.#dealer.events.on("disconnect", () => {
      if (!this.#connected) return;
      this.#connected = false;
      // Monitor events and messages travel separately, and the event can overtake the last
      // replies the daemon sent before it went away. Let those arrive before declaring the loss.
      const loss = (): void => {
        if (this.#pendingLoss !== loss) return;
        this.#pendingLoss = undefined;
        events.onDisconnect();
      };
      this.#pendingLoss = loss;
      this.#whenInboundDrained(loss);
    });
    const dealer = this.#dealer;
    dealer.connect(endpoint);
    this.#loop = (async () => {
      try {
        for await (const frames of dealer) {
          try {
            events.onMessage(frames);
          } catch (error) {
            process.emitWarning(`a reply could not be handled: ${String(error)}`, "PyroProxyWarning");
          }
          // The code awaiting these replies sends its next requests before the poll is re-armed.
          await afterPromiseCallbacks();
        }
      } catch (error) {
        if (!dealer.closed) process.emitWarning(`the connection to ${endpoint} stopped receiving: ${String(error)}`, "PyroProxyWarning");
      }
    })();
  }

  #whenInboundDrained(then: () => void, deadline = Date.now() + DRAIN_TIMEOUT_MS): void {
    setImmediate(() => {
      if (this.#dealer.closed || !this.#dealer.readable || Date.now() > deadline) then();
      else this.#whenInboundDrained(then, deadline);
    });
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** `receipt` is told once ZeroMQ has taken the message. */
  send(frames: OutFrame[], receipt?: SendReceipt): void {
    if (this.#dealer.closed) receipt?.sent(new ConnectionClosedError(`connection to ${this.endpoint} is closed`));
    else this.#queue.send(frames, receipt);
  }

  /**
   * Closes the connection. While connected, what is queued (a stream's cancel, an unlock) is
   * given a short bounded time to leave first; nothing else waits for a daemon that is gone.
   */
  async close(): Promise<void> {
    if (this.#connected && !this.#dealer.closed) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#queue.drained(), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
      this.#dealer.linger = CLOSE_FLUSH_MS;
    }
    this.#queue.clear(new ConnectionClosedError(`connection to ${this.endpoint} was closed`));
    this.#connected = false;
    this.#dealer.close();
    await this.#loop;
  }
}
