import { encodeValue } from "../codec/values.js";
import { MessageTooLargeError } from "../errors.js";
import { encodeMessage, outgoingSize, type OutFrame } from "../protocol/frames.js";
import { runInCallContext, type ServedCall } from "./call-context.js";

/** Where a stream's messages go: the daemon's connection to the client. */
export interface StreamOutlet {
  /** Hands an item to the connection; false when the connection's outgoing bound refuses it for now (`resume()` follows). */
  item(frames: OutFrame[], size: number): boolean;
  /** The generator returned: the stream's final `result`. */
  result(value: unknown): void;
  /** The stream failed: the generator threw, or an item could not be sent. */
  error(error: unknown): void;
  /** What cannot be sent to anyone: a generator whose cleanup threw. */
  report(error: unknown, context: string): void;
}

export interface StreamLimits {
  /** Items sent and not yet credited, at most (at least one is always allowed). */
  readonly window: number;
  /** Bytes of items sent and not yet credited, at most (at least one item is always allowed). */
  readonly windowBytes: number;
  readonly maxMessageSize: number;
}

type Source = AsyncIterator<unknown> | Iterator<unknown>;

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as Partial<PromiseLike<T>>).then === "function";
}

/**
 * Whether a method's result is streamed rather than sent as one value: an async iterable
 * (async generators, Node streams) or a generator object. Arrays, strings, maps and sets are
 * iterable too, but they are values.
 */
export function isStreamable(value: unknown): value is AsyncIterable<unknown> | Generator<unknown> {
  if (value === null || typeof value !== "object") return false;
  return typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === "function" || Object.prototype.toString.call(value) === "[object Generator]";
}

/** The iterator to pull a streamable result's items from. */
export function iteratorOf(value: AsyncIterable<unknown> | Generator<unknown>): Source {
  return Symbol.asyncIterator in value ? value[Symbol.asyncIterator]() : value;
}

/**
 * One stream of a connection: pulls its generator only while the client has credit (at most
 * `window` items and `windowBytes` bytes unacknowledged), so a slow client holds the
 * generator back instead of filling the daemon's memory. Ends when the generator returns or
 * throws, or early by cancel(): then the call's AbortSignal is aborted and the generator's
 * return() runs its `finally`.
 */
export class OutgoingStream {
  readonly id: number;
  /** Settles once the generator has finished (returned, thrown, or its return() settled). */
  readonly finished: Promise<void>;
  readonly #iterator: Source;
  readonly #context: ServedCall;
  readonly #outlet: StreamOutlet;
  readonly #limits: StreamLimits;
  readonly #onEnd: () => void;
  #finish!: () => void;
  /** Sizes of the items sent and not yet credited, oldest first. */
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  /** An item the connection refused for now. */
  #held: { frames: OutFrame[]; size: number } | undefined;
  #pulling = false;
  #ended = false;

  constructor(id: number, iterator: Source, context: ServedCall, outlet: StreamOutlet, limits: StreamLimits, onEnd: () => void) {
    this.id = id;
    this.#iterator = iterator;
    this.#context = context;
    this.#outlet = outlet;
    this.#limits = limits;
    this.#onEnd = onEnd;
    this.finished = new Promise((resolve) => (this.#finish = resolve));
  }

  start(): void {
    void this.#pump();
  }

  /** The client consumed `items` more items. More than were sent is ignored (a confused peer). */
  credit(items: number): void {
    const n = Math.min(items, this.#sizes.length - this.#head);
    for (let i = 0; i < n; i++) this.#bytes -= this.#sizes[this.#head++]!;
    if (this.#head > 1024 && this.#head * 2 > this.#sizes.length) {
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
    void this.#pump();
  }

  /** The connection's outgoing bound has room again. */
  resume(): void {
    const held = this.#held;
    if (held === undefined || this.#ended) return;
    if (!this.#outlet.item(held.frames, held.size)) return;
    this.#held = undefined;
    this.#track(held.size);
    void this.#pump();
  }

  /** Ends the stream early without a word to the client (it asked, or it is gone). */
  cancel(reason: unknown): void {
    if (this.#end()) this.#stopGenerator(reason);
  }

  /** Ends the stream early, telling the client why (the daemon is closing). */
  abandon(error: unknown): void {
    if (!this.#end()) return;
    this.#outlet.error(error);
    this.#stopGenerator(error);
  }

  get #hasCredit(): boolean {
    const inFlight = this.#sizes.length - this.#head;
    return inFlight === 0 || (inFlight < this.#limits.window && this.#bytes < this.#limits.windowBytes);
  }

  #track(size: number): void {
    this.#sizes.push(size);
    this.#bytes += size;
  }

  /** Marks the stream ended; false when it already was. */
  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#held = undefined;
    this.#onEnd();
    return true;
  }

  #stopGenerator(reason: unknown): void {
    this.#context.abort(reason);
    let stopped: unknown;
    try {
      stopped = runInCallContext(this.#context, () => this.#iterator.return?.());
    } catch (error) {
      this.#outlet.report(error, `ending the stream of ${this.#context.objectId} failed`);
    }
    Promise.resolve(stopped)
      .catch((error: unknown) => this.#outlet.report(error, `ending the stream of ${this.#context.objectId} failed`))
      .finally(this.#finish);
  }

  async #pump(): Promise<void> {
    if (this.#pulling || this.#ended) return;
    this.#pulling = true;
    try {
      while (!this.#ended && this.#held === undefined && this.#hasCredit) {
        let step: IteratorResult<unknown>;
        try {
          const next = runInCallContext(this.#context, () => this.#iterator.next());
          // A sync generator's items go out in one burst (the send queue batches them) rather
          // than one message per turn of the microtask queue.
          step = isThenable(next) ? await next : next;
        } catch (error) {
          // A generator that threw is finished: nothing to stop.
          if (this.#end()) this.#outlet.error(error);
          this.#finish();
          return;
        }
        if (this.#ended) return; // cancelled while the generator worked: cancel() stops it
        if (step.done) {
          this.#end();
          this.#outlet.result(step.value);
          this.#finish();
          return;
        }
        this.#send(step.value);
      }
    } finally {
      this.#pulling = false;
    }
  }

  #send(value: unknown): void {
    let frames: OutFrame[];
    let size: number;
    try {
      frames = encodeMessage({ kind: "item", id: this.id, value: encodeValue(value) });
      size = outgoingSize(frames);
      if (size > this.#limits.maxMessageSize) throw new MessageTooLargeError(`a stream item of ${size} bytes exceeds the maximum message size of ${this.#limits.maxMessageSize}`);
    } catch (error) {
      this.abandon(error);
      return;
    }
    if (this.#outlet.item(frames, size)) this.#track(size);
    else this.#held = { frames, size };
  }
}
