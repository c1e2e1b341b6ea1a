import { DaemonError, LimitExceededError, ProtocolError } from "../errors.js";
import { encodeMessage, type OutFrame } from "../protocol/frames.js";
import type { ServedCall } from "./call-context.js";
import { iteratorOf, OutgoingStream, type StreamLimits } from "./outgoing-stream.js";
import { errorFrames, resultFrames } from "./reply-frames.js";

export interface StreamTableOptions extends StreamLimits {
  /** Streams one connection may have open. */
  readonly maxPerConnection: number;
  /** Sends a reply to a connection; false when it went as a refusal instead (the connection's outgoing bound). */
  readonly reply: (peer: Buffer, peerId: string, frames: OutFrame[]) => boolean;
  /** Sends an item; false when the connection cannot take it now (resume() follows). */
  readonly push: (peer: Buffer, peerId: string, frames: OutFrame[]) => boolean;
  /** What cannot be sent to anyone: a generator whose cleanup threw. */
  readonly report: (error: unknown, context: string) => void;
}

/** A call's result that is to be streamed, and what to do once its stream is over (dispose a percall instance). */
export class StreamResult {
  constructor(
    readonly source: AsyncIterable<unknown> | Generator<unknown>,
    readonly call: ServedCall,
    readonly done: () => void,
  ) {}

  /** Never streamed (a oneway call, a refused stream): the generator ends before it began. */
  discard(reason: unknown): void {
    this.call.abort(reason);
    try {
      void Promise.resolve(iteratorOf(this.source).return?.()).catch(() => {});
    } catch {
      // Nothing to clean up in a source that cannot even give an iterator.
    }
    this.done();
  }
}


/**
 * The open streams of a daemon, per connection, by the id of the call that opened each.
 * Credit and cancel messages find their stream here; a connection that goes cancels its own.
 */
export class StreamTable {
  readonly #options: StreamTableOptions;
  readonly #byPeer = new Map<string, Map<number, OutgoingStream>>();
  /** Generators not finished yet, open or cancelled, so close() can wait for their cleanup. */
  readonly #running = new Set<OutgoingStream>();

  constructor(options: StreamTableOptions) {
    this.#options = options;
  }

  /**
   * Answers call `id` with the start of its stream and starts pulling the generator; or, when
   * the daemon is not `running` or the connection cannot open another, with an error.
   */
  open(peer: Buffer, peerId: string, id: number, result: StreamResult, running: boolean): void {
    const { reply, push, maxMessageSize } = this.#options;
    let iterator;
    try {
      if (!running) throw new DaemonError("daemon is shutting down");
      this.#checkRoom(peerId, id);
      iterator = iteratorOf(result.source);
    } catch (error) {
      result.discard(error);
      reply(peer, peerId, errorFrames(id, error, maxMessageSize));
      return;
    }
    if (!reply(peer, peerId, encodeMessage({ kind: "stream", id, window: this.#options.window, windowBytes: this.#options.windowBytes }))) {
      result.discard(new LimitExceededError("the client does not read what it was sent"));
      return;
    }
    const outlet = {
      item: (frames: OutFrame[]) => push(peer, peerId, frames),
      result: (value: unknown) => void reply(peer, peerId, resultFrames(id, value, maxMessageSize)),
      error: (error: unknown) => void reply(peer, peerId, errorFrames(id, error, maxMessageSize)),
      report: this.#options.report,
    };
    const stream: OutgoingStream = new OutgoingStream(id, iterator, result.call, outlet, this.#options, () => this.#remove(peerId, stream));
    this.#add(peerId, stream);
    void stream.finished.then(result.done);
    stream.start();
  }

  /** Throws when `peerId` cannot open stream `id`: too many open, or the id is in use. */
  #checkRoom(peerId: string, id: number): void {
    const streams = this.#byPeer.get(peerId);
    if (!streams) return;
    if (streams.has(id)) throw new ProtocolError(`stream ${id} is still open on this connection: a call id cannot be reused while its stream runs`);
    const max = this.#options.maxPerConnection;
    if (streams.size >= max) throw new LimitExceededError(`this connection already has ${max} streams open, the most a connection may`);
  }

  #add(peerId: string, stream: OutgoingStream): void {
    let streams = this.#byPeer.get(peerId);
    if (!streams) this.#byPeer.set(peerId, (streams = new Map()));
    streams.set(stream.id, stream);
    this.#running.add(stream);
    void stream.finished.then(() => this.#running.delete(stream));
  }

  #remove(peerId: string, stream: OutgoingStream): void {
    const streams = this.#byPeer.get(peerId);
    if (streams?.get(stream.id) !== stream) return;
    streams.delete(stream.id);
    if (streams.size === 0) this.#byPeer.delete(peerId);
  }

  /** Open streams over all connections. */
  get size(): number {
    let n = 0;
    for (const streams of this.#byPeer.values()) n += streams.size;
    return n;
  }

  credit(peerId: string, id: number, items: number): void {
    this.#byPeer.get(peerId)?.get(id)?.credit(items);
  }

  /** The client is done with a stream; an id not open (ended meanwhile) is no error. */
  cancel(peerId: string, id: number): void {
    this.#byPeer.get(peerId)?.get(id)?.cancel(new DOMException("the client closed the stream", "AbortError"));
  }

  /** The connection's outgoing bound has room again: its held items go first. */
  resume(peerId: string): void {
    const streams = this.#byPeer.get(peerId);
    if (streams) for (const stream of [...streams.values()]) stream.resume();
  }

  /**
   * The connection is gone: its streams end, their generators are stopped. Resolves when
   * they have finished their cleanup (at once when it had none), or after `timeoutMs`.
   */
  dropPeer(peerId: string, timeoutMs: number): Promise<void> | undefined {
    const streams = this.#byPeer.get(peerId);
    if (!streams) return undefined;
    const stopped = [...streams.values()];
    for (const stream of stopped) stream.cancel(new DOMException("the client went away", "AbortError"));
    return bounded(Promise.all(stopped.map((stream) => stream.finished)), timeoutMs);
  }

  /** Ends every stream, telling each client `error`. */
  abandonAll(error: unknown): void {
    for (const streams of [...this.#byPeer.values()]) for (const stream of [...streams.values()]) stream.abandon(error);
  }

  /** Resolves when every stopped generator has finished its cleanup, or after `timeoutMs`. */
  async finished(timeoutMs: number): Promise<void> {
    if (this.#running.size > 0) await bounded(Promise.all([...this.#running].map((stream) => stream.finished)), timeoutMs);
  }
}

async function bounded(work: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
