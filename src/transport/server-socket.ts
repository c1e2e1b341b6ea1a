import { randomUUID } from "node:crypto";
import { Router } from "zeromq";
import { DaemonError } from "../errors.js";
import type { OutFrame } from "../protocol/frames.js";
import { batchBudget, type ResolvedTransportOptions } from "./options.js";
import { zapHandler, type AuthorizedKeys, type CurveKeyPair } from "./curve.js";
import { endpointReleased } from "./endpoint-release.js";
import { afterPromiseCallbacks } from "./after-callbacks.js";
import { SendQueue } from "./send-queue.js";
import type { SendReceipt, ServerMessageHandler, ServerTransport } from "./transport.js";
import { commonSocketOptions } from "./socket-options.js";

const CLOSE_LINGER_MS = 1000;

/** CURVE for a daemon: its key pair, and the client keys it admits (any client with a valid handshake when absent). */
export interface ServerCurve {
  readonly keys: CurveKeyPair;
  readonly authorized?: AuthorizedKeys;
}
const ENDPOINT_RELEASE_TIMEOUT_MS = 2000;

/**
 * The daemon's ROUTER socket: bound at construction (so URIs with port 0 are known
 * before start), one receive loop, one send queue.
 */
export class ServerSocket implements ServerTransport {
  readonly #router: Router;
  readonly #queue: SendQueue;
  readonly endpoint: string;
  /** Bound at construction already. */
  readonly ready = Promise.resolve();
  #loop: Promise<void> | undefined;
  #zapDomain: string | undefined;

  constructor(endpoint: string, options: ResolvedTransportOptions, batch?: (messages: OutFrame[][]) => OutFrame[], curve?: ServerCurve) {
    // Not `mandatory`: a reply to a peer that is gone is dropped, it never blocks the others.
    this.#router = new Router({
      ...commonSocketOptions(options, endpoint),
      ...(curve && { curveServer: true, curveSecretKey: curve.keys.secretKey, zapDomain: (this.#zapDomain = `pyro-ts-${randomUUID()}`) }),
    });
    if (curve && this.#zapDomain) {
      const authorized = curve.authorized;
      zapHandler.register(this.#zapDomain, authorized ? (key) => authorized.has(key) : () => true);
    }
    try {
      // Port 0 is ZeroMQ's wildcard `*`.
      this.#router.bindSync(endpoint.replace(/:0$/, ":*"));
    } catch (error) {
      this.#router.close();
      if (this.#zapDomain) void zapHandler.unregister(this.#zapDomain);
      throw new DaemonError(`cannot bind ${endpoint}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    this.endpoint = this.#router.lastEndpoint ?? endpoint;
    // Consecutive messages to the same peer may share one send; the routing id stays in front.
    this.#queue = new SendQueue(
      this.#router,
      batch && {
        sameBatch: (first, next) => (first[0] as Buffer).equals(next[0] as Buffer),
        combine: (messages) => [messages[0]![0]!, ...batch(messages.map((m) => m.slice(1)))],
        maxBytes: batchBudget(options),
      },
    );
  }

  /** Starts the receive loop; `handler` must not throw. (A ROUTER does not tell which peer went away.) */
  start(handler: ServerMessageHandler): void {
    if (this.#loop) return;
    this.#loop = (async () => {
      try {
        // Indexing and slice, not `[peer, ...frames]`: destructuring runs the iterator protocol per message.
        for await (const message of this.#router) {
          const peer = message[0];
          if (!peer) continue;
          let answersLater = false;
          try {
            answersLater = handler(peer, peer.toString("latin1"), message.slice(1)) === true;
          } catch (error) {
            // One message must never end the loop that serves everyone.
            process.emitWarning(`a message could not be handled: ${String(error)}`, "PyroDaemonWarning");
          }
          // An async method answers before the poll is re-armed, unless other requests wait (their
          // replies then leave batched, as those of synchronous methods).
          if (answersLater && !this.#router.readable) await afterPromiseCallbacks();
        }
      } catch (error) {
        if (!this.#router.closed) process.emitWarning(`the daemon stopped receiving: ${String(error)}`, "PyroDaemonWarning");
      }
    })();
  }

  /** Queues a message to `peer`; `receipt` is told once ZeroMQ has taken it. */
  send(peer: Uint8Array, frames: OutFrame[], receipt?: SendReceipt): void {
    const message: OutFrame[] = [peer];
    for (const frame of frames) message.push(frame);
    this.#queue.send(message, receipt);
  }

  /** Flushes queued replies, then closes the socket and ends the receive loop. */
  async close(): Promise<void> {
    await this.#queue.drained();
    // Give the last replies a bounded time to reach their peers instead of dropping them.
    this.#router.linger = CLOSE_LINGER_MS;
    this.#router.close();
    await this.#loop;
    if (this.#zapDomain) await zapHandler.unregister(this.#zapDomain);
    // Resolve only once the port can be bound again, so a daemon can restart on it at once.
    await endpointReleased(this.endpoint, ENDPOINT_RELEASE_TIMEOUT_MS);
  }
}
