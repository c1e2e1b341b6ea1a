/**
 * The item streams of one Pyro5 connection (Pyro5's "streaming_responses"): a method that
 * returned a generator or async iterable is answered with a stream id, and the client pulls
 * items with Pyro.Daemon.get_next_stream_item(id) until StopIteration, or abandons the stream
 * with close_stream(id).
 *
 * Lifetime, where Pyro5 has ITER_STREAM_LIFETIME (0: none) and ITER_STREAM_LINGER (30 s for a
 * client to reconnect): here a stream belongs to its connection and ends with it (pyro-ts's
 * session instances do too; a reconnected Python proxy gets a new session). A stream not
 * pulled for `idleTimeout` ms is ended (its generator's AbortSignal aborted, its `finally`
 * run), so a client that drops iterators without closing them cannot pin generators forever;
 * a later pull gets Pyro5's own "item stream terminated". How many a connection may hold at
 * once is the daemon's maxStreamsPerConnection.
 */
import { randomUUID } from "node:crypto";
import { DaemonError } from "../../errors.js";
import type { HostedStream } from "../../daemon/object-host.js";
import { pythonException } from "./replies.js";

interface OpenStream {
  readonly stream: HostedStream;
  timer: NodeJS.Timeout | undefined;
}

export class ItemStreams {
  readonly #open = new Map<string, OpenStream>();
  readonly #idleTimeout: number;

  /** `idleTimeout` 0: streams never expire while their connection lasts. */
  constructor(idleTimeout: number) {
    this.#idleTimeout = idleTimeout;
  }

  /** Adopts a stream; returns its id (a UUID, as Pyro5's). */
  add(stream: HostedStream): string {
    const id = randomUUID();
    const open: OpenStream = { stream, timer: undefined };
    this.#open.set(id, open);
    this.#arm(id, open);
    return id;
  }

  /**
   * The next item of stream `id`: `{ done: false, value }`, or `{ done: true }` once it ended.
   * Unknown (ended, closed, expired) → Pyro5's PyroError "item stream terminated". A generator
   * that throws ends its stream and the error is thrown here.
   */
  async next(id: unknown): Promise<IteratorResult<unknown>> {
    const open = typeof id === "string" ? this.#open.get(id) : undefined;
    if (!open) throw pythonException("Pyro5.errors.PyroError", "item stream terminated");
    // Not expired while a slow generator works on an item.
    clearTimeout(open.timer);
    open.timer = undefined;
    let step: IteratorResult<unknown>;
    try {
      step = await open.stream.next();
    } catch (error) {
      this.#open.delete(id as string);
      throw error;
    }
    if (step.done) this.#open.delete(id as string);
    else if (this.#open.get(id as string) === open) this.#arm(id as string, open);
    return step;
  }

  /** Ends a stream the client abandoned (close_stream); an unknown id is no error, as in Pyro5. */
  close(id: unknown, reason: unknown): void {
    const open = typeof id === "string" ? this.#open.get(id) : undefined;
    if (!open) return;
    this.#forget(id as string, open);
    void open.stream.close(reason);
  }

  /** Forgets every stream (the connection is gone: the daemon's host stops their generators). */
  clear(): void {
    for (const [id, open] of this.#open) this.#forget(id, open);
  }

  get size(): number {
    return this.#open.size;
  }

  #arm(id: string, open: OpenStream): void {
    if (this.#idleTimeout <= 0) return;
    open.timer = setTimeout(() => this.close(id, new DaemonError(`the stream was not pulled for ${this.#idleTimeout} ms`)), this.#idleTimeout).unref();
  }

  #forget(id: string, open: OpenStream): void {
    clearTimeout(open.timer);
    this.#open.delete(id);
  }
}
