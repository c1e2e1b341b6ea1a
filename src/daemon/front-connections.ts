/**
 * The connections and item streams of a daemon's protocol fronts (object-host.ts): counted
 * against maxConnections with the daemon's own, their streams pulled as their clients ask
 * and stopped by close() as the daemon's own streams are.
 */
import { DaemonError } from "../errors.js";
import { runInCallContext, type ServedCall } from "./call-context.js";
import { type CallsInProgress, Unanswered } from "./calls-in-progress.js";
import { RunningCount } from "../running-count.js";
import { iteratorOf } from "./outgoing-stream.js";

/** What a stream of a front needs of its daemon. */
export interface StreamServices {
  readonly calls: CallsInProgress;
  readonly fronts: FrontConnections;
  readonly report: (error: unknown, context: string) => void;
}

/** A call of a front has no ZeroMQ/TCP peer: close() answers it through `answer`. */
export const NO_PEER = Buffer.alloc(0);

/**
 * The connections and streams of every front of one daemon: counted against maxConnections
 * with the daemon's own, and stopped by close() as the daemon's own streams are.
 */
export class FrontConnections {
  readonly #peers = new Set<string>();
  readonly #streams = new Map<string, Set<StreamOfFront>>();
  /** Generators not finished yet, so close() can wait for their cleanup. */
  readonly #cleanups = new RunningCount();
  #nextId = 1;

  get size(): number {
    return this.#peers.size;
  }

  open(prefix: string): string {
    const peerId = `${prefix}${this.#nextId++}`;
    this.#peers.add(peerId);
    return peerId;
  }

  has(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  /** Whether the peer was open (it is not any more). */
  close(peerId: string): boolean {
    return this.#peers.delete(peerId);
  }

  streamsOf(peerId: string): number {
    return this.#streams.get(peerId)?.size ?? 0;
  }

  addStream(peerId: string, stream: StreamOfFront): void {
    let streams = this.#streams.get(peerId);
    if (!streams) this.#streams.set(peerId, (streams = new Set()));
    streams.add(stream);
  }

  removeStream(peerId: string, stream: StreamOfFront): void {
    const streams = this.#streams.get(peerId);
    if (streams?.delete(stream) && streams.size === 0) this.#streams.delete(peerId);
  }

  /** Stops a peer's streams; resolves when their generators cleaned up. */
  stopStreams(peerId: string, reason: unknown): Promise<void> {
    const streams = [...(this.#streams.get(peerId) ?? [])];
    return Promise.all(streams.map((stream) => stream.close(reason))).then(() => {});
  }

  /** close(): every stream of every front ends now. */
  abandonAll(reason: unknown): void {
    for (const peerId of [...this.#streams.keys()]) void this.stopStreams(peerId, reason);
  }

  track(cleanup: Promise<void>): void {
    this.#cleanups.begin();
    void cleanup.finally(() => this.#cleanups.end());
  }

  /** Resolves once the generators stopped have cleaned up, or after `timeoutMs`. */
  finished(timeoutMs: number): Promise<void> {
    return this.#cleanups.none(timeoutMs);
  }
}

/** A generator never pulled ends before it began (its cleanup's failure is nobody's to hear). */
export function stopUnstarted(source: AsyncIterable<unknown> | Generator<unknown>): void {
  try {
    void Promise.resolve(iteratorOf(source).return?.()).catch(() => {});
  } catch {
    // Nothing to clean up in a source that cannot even give an iterator.
  }
}

/** A method's result that is to be streamed: pulled item by item by the front, as its clients ask. */
export interface HostedStream {
  readonly kind: "stream";
  /**
   * The next item, pulled in the call's context (callContext() works in the generator). Counts
   * as a call in progress, so close() waits for it. Once it is done or throws, the stream is
   * over and its instance released: do not pull again.
   */
  next(): Promise<IteratorResult<unknown>>;
  /**
   * Ends the stream early: aborts the call's AbortSignal, runs the generator's return() (its
   * `finally`), then releases the instance. Resolves once that cleanup settled; never rejects.
   */
  close(reason: unknown): Promise<void>;
}

/** A stream of a front's call: its generator, its call context, and the instance kept until it ends. */
export class StreamOfFront implements HostedStream {
  readonly kind = "stream";
  readonly #iterator: AsyncIterator<unknown> | Iterator<unknown>;
  readonly #served: ServedCall;
  readonly #internals: StreamServices;
  #done: (() => void) | undefined;
  #cleanup: Promise<void> | undefined;

  constructor(source: AsyncIterable<unknown> | Generator<unknown>, served: ServedCall, done: () => void, internals: StreamServices) {
    this.#served = served;
    this.#done = done;
    this.#internals = internals;
    try {
      this.#iterator = iteratorOf(source);
    } catch (error) {
      this.#end();
      throw error;
    }
    internals.fronts.addStream(served.peerId, this);
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#done === undefined || this.#cleanup) return Promise.reject(new DaemonError("the stream is over"));
    const { calls } = this.#internals;
    const peerId = this.#served.peerId;
    return new Promise<IteratorResult<unknown>>((resolve, reject) => {
      const call = new Unanswered(NO_PEER, peerId, 0, reject);
      calls.begin(peerId, call);
      let step: unknown;
      try {
        step = runInCallContext(this.#served, () => this.#iterator.next());
      } catch (error) {
        step = Promise.reject(error);
      }
      Promise.resolve(step as IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>)
        .then(
          (result) => {
            if (result.done) this.#end();
            if (calls.settle(call)) resolve(result);
          },
          (error: unknown) => {
            // A generator that threw is finished: nothing to stop.
            this.#end();
            if (calls.settle(call)) reject(error);
          },
        )
        .finally(() => calls.end(peerId));
    });
  }

  close(reason: unknown): Promise<void> {
    if (this.#cleanup) return this.#cleanup;
    if (this.#done === undefined) return Promise.resolve();
    this.#served.abort(reason);
    let stopped: unknown;
    try {
      stopped = runInCallContext(this.#served, () => this.#iterator.return?.());
    } catch (error) {
      stopped = Promise.reject(error);
    }
    this.#cleanup = Promise.resolve(stopped)
      .then(
        () => {},
        (error: unknown) => this.#internals.report(error, `ending the stream of ${this.#served.objectId} failed`),
      )
      .finally(() => this.#end());
    this.#internals.fronts.track(this.#cleanup);
    return this.#cleanup;
  }

  #end(): void {
    const done = this.#done;
    if (done === undefined) return;
    this.#done = undefined;
    this.#internals.fronts.removeStream(this.#served.peerId, this);
    done();
  }
}
