/**
 * `Pyro5Remote<T>`: a proxy to a Python (or any Pyro5) object, as the type checker sees it.
 * Like `Remote<T>`: methods return promises, attributes (Python properties) are awaited,
 * generator methods stream; local controls start with `$`. Pyro5 has no signals or locks.
 */
import type { RemoteKeys, StreamItem, WithoutSignal } from "../../proxy/remote.js";
import type { Pyro5Metadata } from "./pyro5-metadata.js";
import type { Pyro5ItemStream } from "./item-stream.js";

/** Calling a method whose result is streamed: iterate it, or await it for the stream. */
export type Pyro5StreamCall<X> = Promise<Pyro5ItemStream<X>> & AsyncIterable<X>;

export type Pyro5Method<F> = F extends (...args: infer A) => infer R
  ? [StreamItem<Awaited<R>>] extends [never]
    ? (...args: A) => Promise<Awaited<R>>
    : (...args: WithoutSignal<A>) => Pyro5StreamCall<StreamItem<Awaited<R>>>
  : never;

export type Pyro5Member<V> = V extends (...args: never[]) => unknown ? Pyro5Method<V> : PromiseLike<Awaited<V>>;

/** One call of a batch: the method's name and its arguments. */
export type Pyro5BatchCall = readonly [method: string, ...args: unknown[]];

export interface Pyro5ProxyControls {
  /** The PYRO URI of the object. */
  readonly $uri: string;
  /** Timeout of each call in ms; 0 or Infinity: none (read back as Infinity). */
  $timeout: number;
  /** Writes a remote attribute (a Python property with a setter). */
  $set(name: string, value: unknown): Promise<void>;
  /** Asks the daemon for the object's metadata again (Pyro.Daemon.get_metadata). */
  $meta(): Promise<Pyro5Metadata>;
  /**
   * Sends several calls in one message (Pyro5's batch): resolves with their results in order;
   * the first call that fails rejects it with its error, and the calls after it do not run.
   * With `oneway`, nothing comes back and it resolves once sent.
   */
  $batch(calls: readonly Pyro5BatchCall[], options?: { readonly oneway?: boolean }): Promise<unknown[]>;
  /** Closes the proxy's connections; streams of it end. */
  $close(): Promise<void>;
}

export type Pyro5Remote<T> = { readonly [K in RemoteKeys<T>]: Pyro5Member<T[K]> } & Pyro5ProxyControls;
