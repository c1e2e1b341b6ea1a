import { encodeMessage, type OutFrame } from "../protocol/frames.js";
import type { Payload } from "../protocol/message.js";

interface QueuedEvent {
  readonly subscription: string;
  readonly object: string;
  readonly signal: string;
  readonly args: Payload;
}

/** Sequence numbers run 1…2^32-1 and wrap; differences are taken modulo 2^32. */
const distance = (from: number, to: number): number => (to - from) >>> 0;
const nextSeq = (seq: number): number => (seq === 0xffff_ffff ? 1 : seq + 1);

/**
 * Event delivery to one client connection, with credit-based flow control: at most
 * `window` events may be unacknowledged; later ones wait in a queue of `capacity`
 * events. When that queue is full the OLDEST waiting event is dropped and counted, and
 * the count travels with the subscription's next delivered event. So a slow or dead
 * subscriber costs the emitter O(1) per event and never blocks it or anyone else. Events the
 * connection cannot take now (its outgoing bound is reached) wait in the same queue until
 * resume().
 */
export class EventOutbox {
  /** Sends an event; false when the connection cannot take it now. */
  readonly #send: (frames: OutFrame[]) => boolean;
  readonly #window: number;
  readonly #capacity: number;
  #sent = 0;
  #acked = 0;
  #queue: QueuedEvent[] = [];
  #head = 0;
  readonly #dropped = new Map<string, number>();

  constructor(send: (frames: OutFrame[]) => boolean, window: number, capacity: number) {
    this.#send = send;
    this.#window = window;
    this.#capacity = capacity;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  push(event: QueuedEvent): void {
    if (this.queued === 0 && distance(this.#acked, this.#sent) < this.#window && this.#deliver(event)) return;
    if (this.queued >= this.#capacity) {
      const oldest = this.#queue[this.#head++]!;
      this.#dropped.set(oldest.subscription, (this.#dropped.get(oldest.subscription) ?? 0) + 1);
    }
    this.#queue.push(event);
    this.#compact();
  }

  /** The client received every event up to `seq`. */
  ack(seq: number): void {
    // Ignore acks for events never sent (a confused or malicious peer).
    if (distance(this.#acked, seq) > distance(this.#acked, this.#sent)) return;
    this.#acked = seq;
    this.resume();
  }

  /** Sends what waits, as far as the window and the connection allow. */
  resume(): void {
    while (this.queued > 0 && distance(this.#acked, this.#sent) < this.#window && this.#deliver(this.#queue[this.#head]!)) this.#head++;
    this.#compact();
  }

  /** Forgets queued events and drop counts of one subscription. */
  forget(subscription: string): void {
    this.#queue = this.#queue.slice(this.#head).filter((e) => e.subscription !== subscription);
    this.#head = 0;
    this.#dropped.delete(subscription);
  }

  /** Sends one event with the next sequence number; false (nothing changed) when the connection cannot take it. */
  #deliver(event: QueuedEvent): boolean {
    const seq = nextSeq(this.#sent);
    const dropped = this.#dropped.get(event.subscription) ?? 0;
    if (!this.#send(encodeMessage({ kind: "event", id: seq, object: event.object, signal: event.signal, dropped, args: event.args }))) return false;
    this.#sent = seq;
    if (dropped > 0) this.#dropped.delete(event.subscription);
    return true;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
