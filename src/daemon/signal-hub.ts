import { encodeValue } from "../codec/values.js";
import { LimitExceededError } from "../errors.js";
import type { OutFrame } from "../protocol/frames.js";
import { splitSubscriptionKey, subscriptionKey, type Payload } from "../protocol/message.js";
import type { Signal } from "../signal.js";
import { EventOutbox } from "./event-outbox.js";

export interface SignalHubOptions {
  /** Unacknowledged events per connection before events queue up. */
  readonly window: number;
  /** Queued events per connection before the oldest are dropped. */
  readonly capacity: number;
  /** Subscriptions one connection may hold. */
  readonly maxPerConnection: number;
  /** Sends an event to a connection; false when it cannot take one now (see resume()). */
  readonly send: (peer: Buffer, peerId: string, frames: OutFrame[]) => boolean;
  readonly onError: (error: unknown, context: string) => void;
}

interface Subscriber {
  readonly peerId: string;
  readonly object: string;
  readonly signal: string;
}

/** The one slot the daemon connects to a real signal while anyone listens to it. */
interface Hook {
  readonly disconnect: () => void;
  readonly subscribers: Map<string, Subscriber>;
}

interface Peer {
  readonly outbox: EventOutbox;
  /** Signals this connection listens to, by subscription key. */
  readonly signals: Map<string, Signal<unknown[]>>;
}


/**
 * Remote signal subscriptions of a daemon. A real signal is hooked only while at least
 * one connection listens; each emission is encoded once and handed to every listening
 * connection's outbox, which applies that connection's flow control.
 */
export class SignalHub {
  readonly #options: SignalHubOptions;
  readonly #hooks = new Map<Signal<unknown[]>, Hook>();
  readonly #peers = new Map<string, Peer>();

  constructor(options: SignalHubOptions) {
    this.#options = options;
  }

  /** Subscriptions currently held, over all connections. */
  get size(): number {
    let n = 0;
    for (const peer of this.#peers.values()) n += peer.signals.size;
    return n;
  }

  subscribe(peer: Buffer, peerId: string, object: string, name: string, signal: Signal<unknown[]>): void {
    let state = this.#peers.get(peerId);
    if (!state) {
      const outbox = new EventOutbox((frames) => this.#options.send(peer, peerId, frames), this.#options.window, this.#options.capacity);
      state = { outbox, signals: new Map() };
      this.#peers.set(peerId, state);
    }
    const key = subscriptionKey(object, name);
    if (state.signals.has(key)) return; // already listening: subscribe is idempotent
    if (state.signals.size >= this.#options.maxPerConnection) {
      throw new LimitExceededError(`this connection already holds ${this.#options.maxPerConnection} subscriptions, the most a connection may hold`);
    }
    state.signals.set(key, signal);
    let hook = this.#hooks.get(signal);
    if (!hook) {
      const subscribers = new Map<string, Subscriber>();
      const disconnect = signal.connect((...args: unknown[]) => this.#fanOut(subscribers, args));
      hook = { disconnect, subscribers };
      this.#hooks.set(signal, hook);
    }
    // One connection may listen to the same Signal under two names: one entry each.
    hook.subscribers.set(`${peerId}\u0000${key}`, { peerId, object, signal: name });
  }

  /** Returns whether the connection was subscribed. */
  unsubscribe(peerId: string, object: string, name: string): boolean {
    const state = this.#peers.get(peerId);
    const key = subscriptionKey(object, name);
    const signal = state?.signals.get(key);
    if (!state || !signal) return false;
    state.signals.delete(key);
    state.outbox.forget(key);
    const hook = this.#hooks.get(signal);
    if (hook) {
      hook.subscribers.delete(`${peerId}\u0000${key}`);
      if (hook.subscribers.size === 0) {
        hook.disconnect();
        this.#hooks.delete(signal);
      }
    }
    if (state.signals.size === 0) this.#peers.delete(peerId);
    return true;
  }

  ack(peerId: string, seq: number): void {
    this.#peers.get(peerId)?.outbox.ack(seq);
  }

  /** The connection can take messages again: its waiting events go out. */
  resume(peerId: string): void {
    this.#peers.get(peerId)?.outbox.resume();
  }

  /** Drops every subscription of a connection that is gone. */
  dropPeer(peerId: string): void {
    const state = this.#peers.get(peerId);
    if (!state) return;
    for (const key of [...state.signals.keys()]) {
      const [object, name] = splitSubscriptionKey(key);
      this.unsubscribe(peerId, object, name);
    }
  }

  /** Drops every subscription to an object that was unregistered. */
  dropObject(object: string): void {
    for (const [peerId, state] of [...this.#peers]) {
      for (const key of [...state.signals.keys()]) {
        const [o, name] = splitSubscriptionKey(key);
        if (o === object) this.unsubscribe(peerId, o, name);
      }
    }
  }

  clear(): void {
    for (const peerId of [...this.#peers.keys()]) this.dropPeer(peerId);
  }

  #fanOut(subscribers: Map<string, Subscriber>, args: unknown[]): void {
    let payload: Payload;
    try {
      payload = encodeValue(args);
    } catch (error) {
      this.#options.onError(error, "a signal emission could not be serialized");
      return;
    }
    for (const subscriber of subscribers.values()) {
      this.#peers.get(subscriber.peerId)?.outbox.push({
        subscription: subscriptionKey(subscriber.object, subscriber.signal),
        object: subscriber.object,
        signal: subscriber.signal,
        args: payload,
      });
    }
  }
}
