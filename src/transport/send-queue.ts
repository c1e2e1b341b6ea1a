import type { OutFrame } from "../protocol/frames.js";

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
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Serialises sends on one socket: zeromq.js rejects a second send while one is pending (EBUSY).
 * When nothing is in flight the message goes straight to the socket, without queueing.
 */
export class SendQueue {
  readonly #writer: FrameWriter;
  readonly #batcher: Batcher | undefined;
  #queue: Queued[] = [];
  #head = 0;
  #busy = false;
  #idle: (() => void)[] = [];

  constructor(writer: FrameWriter, batcher?: Batcher) {
    this.#writer = writer;
    this.#batcher = batcher;
  }

  /** Resolves once the socket has taken the message. */
  send(frames: OutFrame[]): Promise<void> {
    if (!this.#busy) {
      // Fast path: nothing in flight, hand the message straight to the socket.
      this.#busy = true;
      let sent: Promise<void>;
      try {
        sent = this.#writer.send(frames);
      } catch (error) {
        this.#next();
        return Promise.reject(error);
      }
      sent.then(this.#next, this.#next);
      return sent;
    }
    return new Promise((resolve, reject) => this.#queue.push({ frames, resolve, reject }));
  }

  readonly #next = (): void => {
    if (this.#head < this.#queue.length) void this.#pump();
    else this.#idleNow();
  };

  #idleNow(): void {
    this.#queue = [];
    this.#head = 0;
    this.#busy = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Resolves when every queued message has been handed to the socket (or failed). */
  drained(): Promise<void> {
    if (!this.#busy) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Rejects every message not yet handed to the socket. */
  clear(error: unknown): void {
    const dropped = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const q of dropped) q.reject(error);
  }

  async #pump(): Promise<void> {
    while (this.#head < this.#queue.length) {
      const group = this.#takeGroup();
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      try {
        await this.#writer.send(group.length === 1 ? group[0]!.frames : this.#batcher!.combine(group.map((q) => q.frames)));
        for (const q of group) q.resolve();
      } catch (error) {
        for (const q of group) q.reject(error);
      }
    }
    this.#idleNow();
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
