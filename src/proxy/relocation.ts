import { ConnectionClosedError, TimeoutError } from "../errors.js";
import type { ObjectMetadata } from "../protocol/metadata.js";
import { Signal } from "../signal.js";
import { formatUri, toUri } from "../uri.js";
import type { Channel } from "./channel.js";

/** While calls wait on a lost connection, where the object went is asked at most this often. */
export const RELOCATE_INTERVAL_MS = 1000;

/** close() waits at most this long for an attempt under way, even for a proxy without call timeout. */
const CLOSE_WAIT_MAX_MS = 30_000;

/** The connection a proxy talks through: one object on one (shared) channel. */
export interface Connection {
  /** The object's PYRO URI, formatted. */
  readonly uri: string;
  readonly objectId: string;
  readonly channel: Channel;
  /** Gives the channel back; called once. */
  readonly release: () => Promise<void>;
}

/** A connection just opened, with the metadata of its object (which proves the object is there). */
export interface Opened {
  readonly connection: Connection;
  readonly metadata: ObjectMetadata;
}

/** How a proxy finds its object again: handed down by the layer that knows its name. */
export interface Relocator {
  /** Where the object is now: its PYRO URI (for a PYRONAME proxy, the name resolved again). */
  readonly relocate: () => Promise<string>;
  /** Opens a connection to a PYRO URI and fetches the object's metadata there, within `timeoutMs`. */
  readonly open: (uri: string, timeoutMs: number) => Promise<Opened>;
}

export interface RelocationOptions {
  /** Absent for a proxy that stays where it is (a PYRO URI): it only reports its connection. */
  readonly relocator?: Relocator | undefined;
  /** The proxy's call timeout, read when needed (it can change). */
  readonly timeout: () => number;
  /** The proxy now uses `opened`: switch its state at once; the promise moves its subscriptions. */
  readonly moved: (opened: Opened) => Promise<void>;
}

interface Waiter {
  readonly resolve: (connection: Connection) => void;
  readonly reject: (error: Error) => void;
  /** Absent when calls have no timeout (Infinity): they wait for the connection as long as it takes. */
  readonly timer: NodeJS.Timeout | undefined;
}

/**
 * The connection of one proxy, and how it follows its object.
 *
 *   connected ──lost──▶ disconnected ──ask relocate()──▶ ┬ elsewhere: open there, move ──▶ connected (new)
 *       ▲                    ▲                          ├ same URI: ZeroMQ reconnects by itself
 *       └──── reconnected ───┴──────────────────────────┴ failed: asked again ≥1 s later, only while calls wait
 *
 * Every step is bounded by the call timeout. An idle proxy asks once per loss and never polls;
 * `close()` rejects the waiting calls and lets an attempt under way end before returning.
 */
export class Relocation {
  /** Emits false when the connection is lost, true when it is back or the proxy moved to another. */
  readonly connectionChanged = new Signal<[connected: boolean]>();
  #current: Connection;
  #connected: boolean;
  readonly #options: RelocationOptions;
  readonly #waiters = new Set<Waiter>();
  #attempt: Promise<void> | undefined;
  /** The relocate() of the latest attempt until it settles: it may outlive the attempt's deadline. */
  #asking: Promise<void> | undefined;
  #lastAttempt = -Infinity;
  #lastError: Error | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onConnection = (connected: boolean): void => this.#setConnected(connected);

  constructor(initial: Connection, options: RelocationOptions) {
    this.#current = initial;
    this.#options = options;
    this.#connected = initial.channel.connected;
    initial.channel.connection.connect(this.#onConnection);
  }

  get current(): Connection {
    return this.#current;
  }

  /**
   * The connection to send on: at once when connected (or when the proxy cannot move, the
   * channel then holds the call until it reconnects); otherwise once the proxy is connected
   * again, here or elsewhere, within `timeoutMs`.
   */
  usable(timeoutMs: number): Connection | Promise<Connection> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError(`proxy for ${this.#current.uri} is closed`));
    if (!this.#options.relocator || this.#current.channel.connected) return this.#current;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: Number.isFinite(timeoutMs)
          ? setTimeout(() => {
            this.#waiters.delete(waiter);
            if (this.#waiters.size === 0) this.#stopRetry();
            const why = this.#lastError ? ` (finding where it went failed: ${this.#lastError.message})` : "";
            reject(new TimeoutError(`no connection to ${this.#current.uri} within ${timeoutMs} ms${why}`, { cause: this.#lastError }));
          }, timeoutMs)
          : undefined,
      };
      this.#waiters.add(waiter);
      this.#maybeAttempt();
    });
  }

  /** Stops following: rejects waiting calls and waits (bounded) for an attempt under way to end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopRetry();
    this.#current.channel.connection.disconnect(this.#onConnection);
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionClosedError(`proxy for ${this.#current.uri} was closed`));
    }
    this.#waiters.clear();
    // Whatever an attempt opens after this is released by the attempt itself.
    const underWay = [this.#attempt, this.#asking].filter((p): p is Promise<void> => p !== undefined);
    const bound = Math.min(this.#options.timeout(), CLOSE_WAIT_MAX_MS);
    if (underWay.length > 0) await within(Promise.all(underWay), bound, "the end of a relocation").catch(() => {});
  }

  #setConnected(connected: boolean): void {
    if (this.#closed || connected === this.#connected) return;
    this.#connected = connected;
    if (connected) this.#wake();
    this.connectionChanged.emit(connected);
    if (!connected) this.#maybeAttempt();
  }

  #maybeAttempt(): void {
    if (!this.#options.relocator || this.#closed || this.#attempt || this.#current.channel.connected) return;
    const wait = this.#lastAttempt + RELOCATE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.#start(this.#options.relocator);
    } else if (this.#waiters.size > 0 && !this.#retry) {
      // Asked again only for calls that wait: a proxy nobody uses does not poll.
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        this.#maybeAttempt();
      }, wait);
    }
  }

  #start(relocator: Relocator): void {
    this.#lastAttempt = Date.now();
    this.#attempt = this.#relocate(relocator).then(
      () => {
        this.#lastError = undefined;
      },
      (error: unknown) => {
        this.#lastError = error instanceof Error ? error : new Error(String(error));
      },
    ).finally(() => {
      this.#attempt = undefined;
      this.#maybeAttempt();
    });
  }

  async #relocate(relocator: Relocator): Promise<void> {
    const timeout = this.#options.timeout();
    const deadline = Date.now() + timeout;
    // A relocate() that throws at once fails this attempt like one that rejects.
    const asking = new Promise<string>((resolve) => resolve(relocator.relocate()));
    const settled = asking.then(noop, noop);
    this.#asking = settled;
    void settled.then(() => {
      if (this.#asking === settled) this.#asking = undefined;
    });
    const found = await within(asking, timeout, `finding where ${this.#current.uri} went`);
    if (this.#closed) return;
    const uri = formatUri(toUri(found));
    // Same place: the daemon may come back there, and ZeroMQ reconnects by itself.
    if (uri === this.#current.uri) return;
    const opened = await relocator.open(uri, Math.max(1, deadline - Date.now()));
    if (this.#closed) {
      await opened.connection.release();
      return;
    }
    const from = this.#current;
    from.channel.connection.disconnect(this.#onConnection);
    this.#current = opened.connection;
    opened.connection.channel.connection.connect(this.#onConnection);
    const moving = this.#options.moved(opened);
    this.#setConnected(opened.connection.channel.connected);
    this.#wake();
    await from.release();
    await moving;
  }

  #wake(): void {
    this.#stopRetry();
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(this.#current);
    }
    this.#waiters.clear();
  }

  #stopRetry(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}

function noop(): void {}

/** `promise`, or a TimeoutError after `ms` (never for Infinity: no call timeout). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
