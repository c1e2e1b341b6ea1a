import type { RemoteStream } from "./remote-stream.js";

/** A proxy's open streams (closed with it), held weakly like the connection's. */
export type StreamOwner = Set<WeakRef<RemoteStream>>;

interface Held {
  readonly id: number;
  readonly ref: WeakRef<RemoteStream>;
  readonly owner: StreamOwner | undefined;
}

/**
 * The streams open on one connection, by id, held weakly. A RemoteStream its program let go
 * of without reading it to the end or closing it is collected by the garbage collector, and
 * then `onDropped(id)` stops it on the daemon: otherwise its generator there, and one of the
 * connection's stream slots, would last as long as the connection (as Pyro closes a stream
 * whose iterator is deleted). A stream being read is referenced by its reader, so it stays.
 */
export class StreamRefs {
  readonly #byId = new Map<number, WeakRef<RemoteStream>>();
  readonly #collected: FinalizationRegistry<Held>;

  constructor(onDropped: (id: number) => void) {
    this.#collected = new FinalizationRegistry(({ id, ref, owner }) => {
      owner?.delete(ref);
      // Ended meanwhile, and the id perhaps given to a new stream: not ours to stop.
      if (this.#byId.get(id) !== ref) return;
      this.#byId.delete(id);
      onDropped(id);
    });
  }

  /** Keeps `stream` as stream `id` (and in `owner`, until it ends). */
  add(id: number, stream: RemoteStream, owner: StreamOwner | undefined): void {
    const ref = new WeakRef(stream);
    this.#byId.set(id, ref);
    this.#collected.register(stream, { id, ref, owner }, ref);
    if (owner) {
      owner.add(ref);
      stream.onEnd = () => owner.delete(ref);
    }
  }

  /** Whether `id` names a stream still open (a collected one until it is stopped). */
  has(id: number): boolean {
    return this.#byId.has(id);
  }

  get(id: number): RemoteStream | undefined {
    return this.#byId.get(id)?.deref();
  }

  /** Forgets stream `id` (it ended or was stopped); returns it when it was open and alive. */
  delete(id: number): RemoteStream | undefined {
    const ref = this.#byId.get(id);
    if (!ref) return undefined;
    this.#byId.delete(id);
    this.#collected.unregister(ref);
    return ref.deref();
  }

  /** Forgets every stream; returns those alive. */
  clear(): RemoteStream[] {
    const alive: RemoteStream[] = [];
    for (const id of [...this.#byId.keys()]) {
      const stream = this.delete(id);
      if (stream) alive.push(stream);
    }
    return alive;
  }
}
