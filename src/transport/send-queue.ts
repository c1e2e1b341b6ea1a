import type { OutFrame } from "../protocol/frames.js";
import type { SendReceipt } from "./transport.js";

/** What a zeromq.js socket offers for sending: one pending send at a time. */
export interface FrameWriter {
  send(frames: OutFrame[]): Promise<void>;
}

/**
 * Lets a queue send several waiting messages as one ZeroMQ message: under load one native
 * send (and one promise) then carries many messages. The format is the caller's business.
 */
export interface Batcher {
  /** Whether `next` may travel in the same batch as `first` (the same destination). */
  sameBatch(first: OutFrame[], next: OutFrame[]): boolean;
  /** One message carrying these (two or more), in order. */
  combine(messages: OutFrame[][]): OutFrame[];
  /** Most bytes (strings counted by length) one batch may carry. */
  readonly maxBytes: number;
}

/** Messages larger than this travel alone; a batch stops growing past its byte budget. */
const BATCHABLE_BYTES = 16 * 1024;
const BATCH_MESSAGES = 1024;

function roughSize(frames: readonly OutFrame[]): number {
  let size = 0;
  for (const f of frames) size += f.length;
  return size;
}

/**
 * Serialises sends on one socket: zeromq.js rejects a second send while one is pending (EBUSY).
 * When nothing is in flight the message goes straight to the socket, in the caller's tick
 * (with a batcher: the first of a tick; see send()). Each send tells its
 * receipt; one promise per native send, none per message, and no object of its own per message.
 */
export class SendQueue {
  readonly #writer: FrameWriter;
  readonly #batcher: Batcher | undefined;
  /**
   * Messages and their receipts side by side, in order: those from #sending to #head are in
   * the native send in progress, those from #head on wait.
   */
  #frames: OutFrame[][] = [];
  #receipts: (SendReceipt | undefined)[] = [];
  #sending = 0;
  #head = 0;
  #busy = false;
  /**
   * A message went straight to the socket in this tick: the JavaScript run by one event (a
   * socket read, a timer) with the promise callbacks it queues, until process.nextTick's turn.
   */
  #sentThisTick = false;
  /** Messages wait for the end of this tick, to leave as one batch (#busy is set meanwhile). */
  #deferred = false;
  #idle: (() => void)[] = [];

  constructor(writer: FrameWriter, batcher?: Batcher) {
    this.#writer = writer;
    this.#batcher = batcher;
  }

  /** Queues a message; `receipt` is told once the socket has taken it, or why it could not. */
  send(frames: OutFrame[], receipt?: SendReceipt): void {
    this.#frames.push(frames);
    this.#receipts.push(receipt);
    if (this.#busy) return;
    if (this.#batcher && this.#sentThisTick) {
      // A second message in one tick: more are likely coming (the requests of a burst of
      // replies, the replies to a batch of requests). Sent together when the tick ends, they
      // take one native send instead of one each; a lone message per tick still leaves at once.
      this.#busy = this.#deferred = true;
      return;
    }
    if (this.#batcher) {
      this.#sentThisTick = true;
      // nextTick, not setImmediate: as late as a burst's messages can come, and cheaper (no
      // Immediate object, no check-phase turn) on every sequential call.
      process.nextTick(this.#tickEnded);
    }
    this.#pump();
  }

  readonly #tickEnded = (): void => {
    this.#sentThisTick = false;
    if (!this.#deferred) return;
    this.#deferred = false;
    if (this.#head < this.#frames.length) this.#pump();
    else this.#becomeIdle();
  };

  /** Resolves when every queued message has been handed to the socket (or failed). */
  drained(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Fails every message not yet handed to the socket (those in the send in progress are told by it). */
  clear(error: Error): void {
    const dropped = this.#receipts.slice(this.#head);
    this.#frames.length = this.#receipts.length = this.#head;
    for (const receipt of dropped) receipt?.sent(error);
  }

  #pump(): void {
    this.#busy = true;
    // Everything before #head has been told by now: drop it once it is most of the queue.
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#receipts = this.#receipts.slice(this.#head);
      this.#head = 0;
    }
    this.#sending = this.#head;
    this.#head = this.#groupEnd();
    let sending: Promise<void>;
    try {
      sending = this.#writer.send(this.#head - this.#sending === 1 ? this.#frames[this.#sending]! : this.#batcher!.combine(this.#frames.slice(this.#sending, this.#head)));
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(this.#sent, this.#failed);
  }

  readonly #sent = (): void => this.#settle(undefined);

  readonly #failed = (error: unknown): void => this.#settle(error instanceof Error ? error : new Error(String(error)));

  #settle(error: Error | undefined): void {
    // A receipt may queue more (beyond #head) or clear the waiting ones; the range sent stays.
    const end = this.#head;
    for (let i = this.#sending; i < end; i++) this.#receipts[i]?.sent(error);
    if (this.#head < this.#frames.length) {
      this.#pump();
      return;
    }
    this.#becomeIdle();
  }

  #becomeIdle(): void {
    this.#frames.length = this.#receipts.length = 0;
    this.#head = this.#sending = 0;
    this.#busy = false;
    if (this.#idle.length === 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  /** Where the next send's group ends: the message at #head, with the small ones behind it that can share its send. */
  #groupEnd(): number {
    const first = this.#frames[this.#head]!;
    let end = this.#head + 1;
    if (!this.#batcher || end === this.#frames.length) return end;
    let bytes = roughSize(first);
    if (bytes > BATCHABLE_BYTES) return end;
    while (end < this.#frames.length && end - this.#head < BATCH_MESSAGES) {
      const next = this.#frames[end]!;
      const size = roughSize(next);
      if (size > BATCHABLE_BYTES || bytes + size > this.#batcher.maxBytes || !this.#batcher.sameBatch(first, next)) break;
      bytes += size;
      end++;
    }
    return end;
  }
}
