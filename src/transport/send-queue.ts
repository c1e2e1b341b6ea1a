import type { OutFrame } from "../protocol/frames.js";

/** What a zeromq.js socket offers for sending: one pending send at a time. */
export interface FrameWriter {
  send(frames: OutFrame[]): Promise<void>;
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
  #queue: Queued[] = [];
  #head = 0;
  #busy = false;
  #idle: (() => void)[] = [];

  constructor(writer: FrameWriter) {
    this.#writer = writer;
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
      const next = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      try {
        await this.#writer.send(next.frames);
        next.resolve();
      } catch (error) {
        next.reject(error);
      }
    }
    this.#idleNow();
  }
}
