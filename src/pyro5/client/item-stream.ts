/**
 * A Python generator's items, pulled one request at a time as Pyro5 does
 * (`Pyro.Daemon.get_next_stream_item` until StopIteration), on the connection that opened the
 * stream. `break`, `return()` and `close()` tell the daemon to drop it (`close_stream`, oneway).
 */
import type { PythonError } from "../wire/python-error.js";

/** What a stream needs from its proxy: the daemon object's two stream methods, on its connection. */
export interface ItemSource {
  next(streamId: string): Promise<unknown>;
  close(streamId: string): Promise<void>;
  /** For errors: `object.method`. */
  readonly what: string;
}

const DONE: IteratorResult<never> = Object.freeze({ done: true, value: undefined });

function isStopIteration(error: unknown): error is PythonError {
  return typeof error === "object" && error !== null && (error as { pythonType?: unknown }).pythonType === "builtins.StopIteration";
}

export class Pyro5ItemStream<T = unknown> implements AsyncIterableIterator<T> {
  readonly #source: ItemSource;
  readonly #streamId: string;
  readonly #onEnd: (() => void) | undefined;
  #done = false;
  /** Requests go one after another: the next item is asked only when the previous came. */
  #tail: Promise<unknown> = Promise.resolve();

  /** `onEnd` is told once the stream is over, however it ended. */
  constructor(source: ItemSource, streamId: string, onEnd?: () => void) {
    this.#source = source;
    this.#streamId = streamId;
    this.#onEnd = onEnd;
  }

  get streamId(): string {
    return this.#streamId;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const result = this.#tail.then(() => this.#pull());
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return DONE;
  }

  /** Ends the stream; the daemon drops the generator (nothing to do when it already ended). */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#end();
    await this.#source.close(this.#streamId).catch(() => {});
  }

  async #pull(): Promise<IteratorResult<T>> {
    if (this.#done) return DONE;
    try {
      return { done: false, value: (await this.#source.next(this.#streamId)) as T };
    } catch (error) {
      this.#end();
      if (isStopIteration(error)) return DONE;
      throw error;
    }
  }

  #end(): void {
    this.#done = true;
    this.#onEnd?.();
  }
}
