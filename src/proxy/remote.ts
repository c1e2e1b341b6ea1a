/**
 * `Remote<T>`: what a proxy to a `T` looks like to the type checker.
 * Methods return promises of their awaited result, exposed attributes are awaitable,
 * local controls start with `$`. Members a daemon never exposes are left out.
 */
import type { ObjectMetadata } from "../protocol/metadata.js";
import type { Signal } from "../signal.js";
import type { RemoteSignal } from "./remote-signal.js";
import type { RemoteStream } from "./remote-stream.js";

type Hidden = `_${string}` | `$${string}` | "then" | "constructor";

/** Keys of T that can exist on a remote proxy. */
export type RemoteKeys<T> = {
  [K in keyof T]-?: K extends Hidden ? never : K extends string ? K : never;
}[keyof T];

type IfEquals<X, Y, A, B> = (<G>() => G extends X ? 1 : 2) extends <G>() => G extends Y ? 1 : 2 ? A : B;

/** Attributes that can be written remotely: not methods, not readonly (a getter without setter is readonly). */
export type WritableKeys<T> = {
  [K in RemoteKeys<T>]-?: T[K] extends ((...args: never[]) => unknown) | Signal<infer _A>
    ? never
    : IfEquals<Pick<T, K>, { -readonly [Q in K]: T[Q] }, K, never>;
}[RemoteKeys<T>];

/** The items of a result that is streamed: an async iterable's (async generators, Node streams) or a generator's. */
export type StreamItem<R> = R extends AsyncIterable<infer X> ? X : R extends Generator<infer X, unknown, never> ? X : never;

/** The parameters a client sends: a trailing AbortSignal is the daemon's to fill in (for generator methods). */
export type WithoutSignal<A extends unknown[]> = A extends []
  ? A
  : A extends [...infer Rest, AbortSignal]
  ? Rest
  : A extends [...infer Rest, (AbortSignal | undefined)?]
    ? Rest
    : A;

/** Calling a streaming method: iterate it (`for await`), or await it for the RemoteStream. */
export type RemoteStreamCall<X> = Promise<RemoteStream<X>> & AsyncIterable<X>;

type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * A remote method: same parameters, the result always a promise; a method whose result is
 * streamed (generators, async iterables) gives a RemoteStreamCall of its items instead.
 */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? IsAny<R> extends true
    ? (...args: A) => Promise<Awaited<R>>
    : [StreamItem<Awaited<R>>] extends [never]
      ? (...args: A) => Promise<Awaited<R>>
      : (...args: WithoutSignal<A>) => RemoteStreamCall<StreamItem<Awaited<R>>>
  : never;

/** A remote attribute: read with `await proxy.name`. */
export type RemoteAttribute<V> = PromiseLike<Awaited<V>>;

export type RemoteMember<V> = V extends Signal<infer A>
  ? RemoteSignal<A>
  : V extends (...args: never[]) => unknown
    ? RemoteMethod<V>
    : RemoteAttribute<V>;

/**
 * Why a proxy's lock is gone: its connection was lost ("disconnected": it comes back as a new
 * connection, and the daemon drops the old one's locks), the daemon had dropped it for
 * silence ("reset"), a call made with the lock was refused because the daemon no longer
 * holds it ("refused"), or the proxy moved to another daemon ("moved").
 */
export type LockLostReason = "disconnected" | "reset" | "refused" | "moved";

/** Controls local to the proxy; never sent to the remote object. */
export interface ProxyControls<T> {
  /** The PYRO URI this proxy talks to now (a PYRONAME proxy follows its name when its daemon goes away). */
  readonly $uri: string;
  /**
   * Local, never remote: emits false when the connection to the daemon is lost, true when it
   * is back or the proxy moved to where its name now points. Emits on changes only.
   */
  readonly $connectionChanged: Pick<Signal<[connected: boolean]>, "connect" | "disconnect" | "once">;
  /** Timeout of each call in ms; assign to change it for this proxy (0 or Infinity: none, read back as Infinity). */
  $timeout: number;
  /** Writes a remote attribute. */
  $set<K extends WritableKeys<T>>(name: K, value: T[K]): Promise<void>;
  /** Fetches the remote object's metadata again (methods, attributes, oneway methods, signals). */
  $meta(): Promise<ObjectMetadata>;
  /**
   * Locks a @lockable object for this proxy (not its shared connection: other proxies, in this
   * process too, are refused); `owner` (default user@host (pid)) names the holder to others.
   */
  $lock(owner?: string): Promise<void>;
  /** Releases this proxy's lock. */
  $unlock(): Promise<void>;
  /**
   * Local, never remote: emits once each time a lock this proxy held is gone without $unlock
   * or $close (connection lost or reset, a call refused for it, or a move to another daemon).
   */
  readonly $lockLost: Pick<Signal<[reason: LockLostReason]>, "connect" | "disconnect" | "once">;
  /** Releases the lock this proxy holds and the connection (closed when the last proxy to the daemon is closed). */
  $close(): Promise<void>;
}

export type Remote<T> = { readonly [K in RemoteKeys<T>]: RemoteMember<T[K]> } & ProxyControls<T>;
