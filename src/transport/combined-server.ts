import type { OutFrame } from "../protocol/frames.js";
import type { SendReceipt, ServerDisconnectHandler, ServerMessageHandler, ServerTransport } from "./transport.js";

/**
 * Several transports serving one daemon (ZeroMQ and TCP on two ports). A peer's identity is
 * its transport's, prefixed with that transport's index, so peers of different transports
 * never share an identity (a ZeroMQ client may choose its routing id) and replies go back
 * the way the request came.
 */
export class CombinedServer implements ServerTransport {
  readonly #transports: readonly ServerTransport[];
  readonly ready: Promise<void>;

  constructor(transports: readonly ServerTransport[]) {
    this.#transports = transports;
    this.ready = Promise.all(transports.map((t) => t.ready)).then(() => {});
    this.ready.catch(() => {});
  }

  /** The first transport's endpoint. */
  get endpoint(): string {
    return this.#transports[0]!.endpoint;
  }

  /** The endpoint of transport `index`. */
  endpointOf(index: number): string {
    return this.#transports[index]!.endpoint;
  }

  start(handler: ServerMessageHandler, onDisconnect?: ServerDisconnectHandler): void {
    this.#transports.forEach((transport, index) => {
      const tag = (peer: Buffer): Buffer => Buffer.concat([Buffer.of(index), peer]);
      // The index is one byte, so as latin1 it is one character.
      const prefix = String.fromCharCode(index);
      transport.start(
        (peer, peerId, frames) => handler(tag(peer), prefix + peerId, frames),
        onDisconnect && ((peer, peerId) => onDisconnect(tag(peer), prefix + peerId)),
      );
    });
  }

  send(peer: Uint8Array, frames: OutFrame[], receipt?: SendReceipt): void {
    // An identity this server never handed out: nobody to send to, as to a peer that is gone.
    this.#transports[peer[0] ?? -1]?.send(peer.subarray(1), frames, receipt);
  }

  async close(): Promise<void> {
    await Promise.all(this.#transports.map((t) => t.close()));
  }
}
