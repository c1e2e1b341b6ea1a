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

interface Queued {
  readonly frames: OutFrame[];
  readonly receipt: SendReceipt | undefined;
}

/**
 * Serialises sends on one socket: zeromq.js rejects a second send while one is pending (EBUSY).
 * When nothing is in flight the message goes straight to the socket, in the caller's tick
 * (with a batcher: the first of a turn of the event loop; see send()). Each send tells its
 * receipt; one promise per native send, none per message.
 */
export class SendQueue {
  readonly #writer: FrameWriter;
  readonly #batcher: Batcher | undefined;
  #queue: Queued[] = [];
  #head = 0;
  /** The messages the native send in progress carries. */
  #inFlight: Queued[] = [];
  #busy = false;
  /** A message went straight to the socket in this turn of the event loop. */
  #sentThisTurn = false;
  /** Messages wait for the end of this turn, to leave as one batch (#busy is set meanwhile). */
  #deferred = false;
  #idle: (() => void)[] = [];

  constructor(writer: FrameWriter, batcher?: Batcher) {
    this.#writer = writer;
    this.#batcher = batcher;
  }

  /** Queues a message; `receipt` is told once the socket has taken it, or why it could not. */
  send(frames: OutFrame[], receipt?: SendReceipt): void {
    this.#queue.push({ frames, receipt });
    if (this.#busy) return;
    if (this.#batcher && this.#sentThisTurn) {
      // A second message in one turn: more are likely coming (the requests of a burst of
      // replies, the replies to a batch of requests). Sent together when the turn ends, they
      // take one native send instead of one each; a lone message per turn still leaves at once.
      this.#busy = this.#deferred = true;
      return;
    }
    if (this.#batcher) {
      this.#sentThisTurn = true;
      setImmediate(this.#turnEnded);
    }
    this.#pump();
  }

  readonly #turnEnded = (): void => {
    this.#sentThisTurn = false;
    if (!this.#deferred) return;
    this.#deferred = false;
    if (this.#head < this.#queue.length) this.#pump();
    else this.#becomeIdle();
  };

  /** Resolves when every queued message has been handed to the socket (or failed). */
  drained(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Fails every message not yet handed to the socket. */
  clear(error: Error): void {
    const dropped = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const q of dropped) q.receipt?.sent(error);
  }

  #pump(): void {
    this.#busy = true;
    const group = this.#takeGroup();
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#inFlight = group;
    let sending: Promise<void>;
    try {
      sending = this.#writer.send(group.length === 1 ? group[0]!.frames : this.#batcher!.combine(group.map((q) => q.frames)));
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(this.#sent, this.#failed);
  }

  readonly #sent = (): void => this.#settle(undefined);

  readonly #failed = (error: unknown): void => this.#settle(error instanceof Error ? error : new Error(String(error)));

  #settle(error: Error | undefined): void {
    const group = this.#inFlight;
    this.#inFlight = [];
    for (const q of group) q.receipt?.sent(error);
    if (this.#head < this.#queue.length) {
      this.#pump();
      return;
    }
    this.#becomeIdle();
  }

  #becomeIdle(): void {
    this.#queue = [];
    this.#head = 0;
    this.#busy = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  /** The next queued message, with the small ones behind it that can share its send. */
  #takeGroup(): Queued[] {
    const first = this.#queue[this.#head++]!;
    const group = [first];
    if (!this.#batcher || roughSize(first.frames) > BATCHABLE_BYTES) return group;
    let bytes = roughSize(first.frames);
    while (this.#head < this.#queue.length && group.length < BATCH_MESSAGES) {
      const next = this.#queue[this.#head]!;
      const size = roughSize(next.frames);
      if (size > BATCHABLE_BYTES || bytes + size > this.#batcher.maxBytes || !this.#batcher.sameBatch(first.frames, next.frames)) break;
      group.push(next);
      bytes += size;
      this.#head++;
    }
    return group;
  }
}
