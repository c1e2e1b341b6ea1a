import { decodeValue } from "../codec/values.js";
import { ProtocolError, TimeoutError } from "../errors.js";
import type { Payload } from "../protocol/message.js";

/** What a stream needs from the connection it arrives on. */
export interface StreamLink {
  /** Grants the daemon `items` more items (the client consumed them). */
  credit(items: number): void;
  /** Tells the daemon the client is done; nothing more arrives for this stream. */
  cancel(): void;
  /** Says what the stream is, for errors: `object.method`. */
  readonly what: string;
  /** How long next() waits for an item, in ms (Infinity: no limit). */
  readonly timeout: number;
}

interface Waiter<T> {
  readonly resolve: (result: IteratorResult<T>) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

interface Received {
  readonly value: Payload;
  readonly size: number;
}

const DONE: IteratorResult<never> = Object.freeze({ done: true, value: undefined });

/**
 * The client's end of a streamed result: what `for await` iterates. Items arrive pushed by the
 * daemon and wait here, at most the daemon's window of them; consuming them grants the daemon
 * credit for more. `break`, `return()` and `close()` stop the generator on the daemon; waiting
 * longer than the call's timeout for an item fails with TimeoutError and stops it too; a lost
 * connection fails it with ConnectionClosedError.
 */
export class RemoteStream<T = unknown> implements AsyncIterableIterator<T> {
  readonly #link: StreamLink;
  readonly #creditItems: number;
  readonly #creditBytes: number;
  readonly #window: number;
  #items: Received[] = [];
  #head = 0;
  #waiters: Waiter<T>[] = [];
  /** How the daemon ended the stream: its return value, or an error; undefined while it runs. */
  #outcome: { readonly error?: Error } | undefined;
  /** The consumer is done (returned, or was handed the stream's error). */
  #closed = false;
  #consumed = 0;
  #consumedBytes = 0;
  /** Items received and not yet granted back, to catch a daemon that ignores its window. */
  #outstanding = 0;
  #onEnd: (() => void) | undefined;

  constructor(link: StreamLink, window: number, windowBytes: number) {
    this.#link = link;
    this.#window = window;
    this.#creditItems = Math.max(1, Math.ceil(window / 2));
    this.#creditBytes = Math.max(1, Math.ceil(windowBytes / 2));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) return this.#take();
    if (this.#closed) return Promise.resolve(DONE);
    if (this.#outcome) return this.#settled();
    return new Promise((resolve, reject) => {
      const timeout = this.#link.timeout;
      const timer = Number.isFinite(timeout) && timeout > 0
        ? setTimeout(() => this.#timedOut(waiter, timeout), timeout)
        : undefined;
      const waiter: Waiter<T> = { resolve, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Stops the stream (the daemon's generator too, when it still runs); items not consumed are dropped. */
  return(): Promise<IteratorResult<T>> {
    this.#stop();
    return Promise.resolve(DONE);
  }

  /** The same as return(), for code that holds the stream rather than iterating it. */
  async close(): Promise<void> {
    this.#stop();
  }

  /** Called once when the stream is over for this end (ended, failed or stopped). */
  set onEnd(listener: () => void) {
    this.#onEnd = listener;
  }

  /** An item arrived (the connection calls this). */
  push(value: Payload, size: number): void {
    if (this.#closed || this.#outcome) return;
    if (++this.#outstanding > this.#window) {
      this.#link.cancel();
      this.fail(new ProtocolError(`${this.#link.what}: the daemon sent more than its window of ${this.#window} items`));
      return;
    }
    this.#items.push({ value, size });
    const waiter = this.#waiters.shift();
    if (waiter) void this.#take().then(waiter.resolve, waiter.reject).finally(() => clearTimeout(waiter.timer));
  }

  /** The daemon ended the stream: its generator returned. */
  finish(): void {
    this.#end({});
  }

  /** The stream failed: the generator threw, or the connection is gone. Items already here are still consumed first. */
  fail(error: Error): void {
    this.#end({ error });
  }

  #end(outcome: { readonly error?: Error }): void {
    if (this.#outcome || this.#closed) return;
    this.#outcome = outcome;
    this.#onEnd?.();
    // Waiters exist only when no items are queued.
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      this.#settled().then(waiter.resolve, waiter.reject);
    }
  }

  /** The outcome, handed over once: an error is thrown to one consumer, then the stream is done. */
  #settled(): Promise<IteratorResult<T>> {
    this.#closed = true;
    const error = this.#outcome?.error;
    return error ? Promise.reject(error) : Promise.resolve(DONE);
  }

  #take(): Promise<IteratorResult<T>> {
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as Received;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    this.#grant(item.size);
    try {
      return Promise.resolve({ done: false, value: decodeValue(item.value) as T });
    } catch (error) {
      this.#stop();
      return Promise.reject(error);
    }
  }

  #grant(size: number): void {
    this.#consumed++;
    this.#consumedBytes += size;
    if (this.#outcome || (this.#consumed < this.#creditItems && this.#consumedBytes < this.#creditBytes)) return;
    this.#outstanding -= this.#consumed;
    this.#link.credit(this.#consumed);
    this.#consumed = 0;
    this.#consumedBytes = 0;
  }

  #timedOut(waiter: Waiter<T>, timeout: number): void {
    const index = this.#waiters.indexOf(waiter);
    if (index < 0) return;
    this.#waiters.splice(index, 1);
    waiter.reject(new TimeoutError(`no item of ${this.#link.what} within ${timeout} ms`));
    this.#stop();
  }

  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    const running = !this.#outcome;
    this.#items = [];
    this.#head = 0;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(DONE);
    }
    if (running) {
      this.#link.cancel();
      this.#onEnd?.();
    }
  }
}

/** The promise of a call that may return a stream, made iterable: `for await (const x of proxy.readings(10))`. */
export type IterableReply<R> = Promise<R> & AsyncIterable<unknown>;

/**
 * Makes a call's promise iterable as well, so a stream can be iterated without awaiting the
 * call first. Iterating a call that returned a value fails with a TypeError naming it
 * (`uri` and `member`: made into a name only then, one closure per call).
 */
export function iterableReply<R>(reply: Promise<R>, uri: () => string, member: string): IterableReply<R> {
  const iterable = reply as IterableReply<R>;
  iterable[Symbol.asyncIterator] = () => deferredIterator(reply, () => `${uri()} ${member}()`);
  return iterable;
}

function deferredIterator(reply: Promise<unknown>, what: () => string): AsyncIterator<unknown> {
  const stream = reply.then((value) => {
    if (value instanceof RemoteStream) return value as RemoteStream;
    throw new TypeError(`${what()} returned a value, not a stream: await it instead of iterating it`);
  });
  return {
    next: () => stream.then((s) => s.next()),
    // Breaking off before the stream started still stops it once it does.
    return: () => stream.then((s) => s.return(), () => DONE),
  };
}
