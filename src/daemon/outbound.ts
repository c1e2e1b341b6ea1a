import { LimitExceededError } from "../errors.js";
import { outgoingSize, peekCorrelationId, type OutFrame } from "../protocol/frames.js";
import type { SendReceipt, ServerTransport } from "../transport/transport.js";
import { OutgoingBudget } from "./outgoing-budget.js";
import { errorFrames } from "./reply-frames.js";

/** Replies may go this far past a connection's bound, so events and stream items filling it never starve them. */
export const REPLY_ALLOWANCE_BYTES = 8 * 1024 * 1024;
/** Past that, refusals still go out up to this much more; then replies are dropped. */
const REFUSAL_MARGIN_BYTES = 1024 * 1024;

/**
 * Everything a daemon sends, each connection held to its outgoing bound (OutgoingBudget):
 * events and stream items wait when it is reached (the caller keeps them); a reply may go 8 MiB
 * past it, then becomes a LimitExceededError, and past a further margin it is dropped (its caller times out: a
 * client that reads nothing sees no reply anyway).
 */
export class Outbound {
  readonly #socket: ServerTransport;
  readonly #budget: OutgoingBudget;
  readonly #maxBytes: number;
  readonly #maxMessageSize: number;
  readonly #onError: (error: unknown, context: string) => void;
  /** Set once the socket is closing: messages then go nowhere, and that is no error. */
  #silenced = false;

  constructor(socket: ServerTransport, limits: { maxBytes: number; maxMessages: number; maxMessageSize: number }, onError: (error: unknown, context: string) => void) {
    this.#socket = socket;
    this.#budget = new OutgoingBudget(limits.maxBytes, limits.maxMessages);
    this.#maxBytes = limits.maxBytes;
    this.#maxMessageSize = limits.maxMessageSize;
    this.#onError = onError;
  }

  /**
   * Sends a reply (result, error, stream start, reset); returns whether it went as it was.
   * `peerId` undefined: a connection the daemon does not track (refused), not accounted.
   */
  reply(peer: Buffer, peerId: string | undefined, frames: OutFrame[]): boolean {
    const size = outgoingSize(frames);
    if (peerId === undefined || this.#budget.fits(peerId, size, REPLY_ALLOWANCE_BYTES)) {
      this.#send(peer, peerId, frames, size);
      return true;
    }
    const unread = this.#budget.unconfirmedBytes(peerId);
    const refusal = errorFrames(
      peekCorrelationId(frames) ?? 0,
      new LimitExceededError(`this connection's client has not read ${unread} bytes the daemon sent it (maxOutgoingBytes ${this.#maxBytes}); a reply of ${size} bytes was refused`),
      this.#maxMessageSize,
    );
    const refusalSize = outgoingSize(refusal);
    if (unread + refusalSize <= this.#maxBytes + REPLY_ALLOWANCE_BYTES + REFUSAL_MARGIN_BYTES) this.#send(peer, peerId, refusal, refusalSize);
    return false;
  }

  /** Sends an error reply to request `id`. */
  error(peer: Buffer, peerId: string | undefined, id: number, error: unknown): void {
    this.reply(peer, peerId, errorFrames(id, error, this.#maxMessageSize));
  }

  /** Sends an event or stream item, unless the connection's bound is reached: then false, and it waits for resume. */
  push(peer: Buffer, peerId: string, frames: OutFrame[]): boolean {
    const size = outgoingSize(frames);
    if (!this.#budget.fits(peerId, size)) return false;
    this.#send(peer, peerId, frames, size);
    return true;
  }

  /** The client's `received` report; true when the connection had refused something and has room again. */
  confirm(peerId: string, bytes: number, messages: number): boolean {
    return this.#budget.confirm(peerId, bytes, messages);
  }

  drop(peerId: string): void {
    this.#budget.drop(peerId);
  }

  /** From now on nothing is sent (the socket is closing). */
  silence(): void {
    this.#silenced = true;
  }

  #send(peer: Buffer, peerId: string | undefined, frames: OutFrame[], size: number): void {
    if (this.#silenced) return;
    if (peerId !== undefined) this.#budget.charge(peerId, size);
    this.#socket.send(peer, frames, this.#receipt);
  }

  /** One receipt for every send (none allocated per message). */
  readonly #receipt: SendReceipt = {
    sent: (error) => {
      // A send the closing socket refused: the caller learns it from its side (ConnectionClosedError).
      if (error && !this.#silenced) this.#onError(error, "sending a reply failed");
    },
  };
}
