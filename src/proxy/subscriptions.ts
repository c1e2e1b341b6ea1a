import { decodeValue } from "../codec/values.js";
import { splitSubscriptionKey, subscriptionKey, type EventMessage } from "../protocol/message.js";
import { Signal, type Slot } from "../signal.js";

/** Why events of a remote signal may have been missed. */
export type SignalGap =
  /**
   * The connection was lost and re-established; events emitted meanwhile are gone. With
   * `relocatedTo`, the proxy moved to the object its name now points to (a PYRONAME proxy
   * whose daemon went away): this URI, a new daemon and instance.
   */
  | { readonly reason: "reconnect"; readonly relocatedTo?: string }
  /** The daemon dropped `count` events because this client read them too slowly. */
  | { readonly reason: "overflow"; readonly count: number };

/** What the subscriptions need from their channel. */
export interface SubscriptionTransport {
  subscribe(object: string, signal: string, timeoutMs: number): Promise<unknown>;
  unsubscribe(object: string, signal: string, timeoutMs: number): Promise<unknown>;
  ack(seq: number): void;
}

/** One remote signal as seen by one connection: every local slot of every proxy sharing it. */
export class Subscription {
  readonly slots = new Signal<unknown[]>();
  readonly gaps = new Signal<[SignalGap]>();
  /** Events the daemon dropped for this subscription so far. */
  dropped = 0;
  /** Whether the daemon currently delivers to us. */
  active = false;
  /** Was active when the connection dropped: to renew on reconnect. */
  renew = false;
  /** Timeout of the last subscribe asked by a user, reused for renewals. */
  timeout = 30_000;
  /** Serialises subscribe/unsubscribe round trips of this subscription. */
  chain: Promise<void> = Promise.resolve();
}


/**
 * The remote signal subscriptions of one channel. A remote subscription exists while at
 * least one local slot is connected; after a reconnect every one is renewed by itself and
 * a "reconnect" gap is reported.
 */
export class Subscriptions {
  readonly #transport: SubscriptionTransport;
  readonly #subscriptions = new Map<string, Subscription>();
  #lastSeq = 0;
  #ackScheduled = false;

  constructor(transport: SubscriptionTransport) {
    this.#transport = transport;
  }

  /** The subscription for a signal, created (inactive) on first use. */
  get(object: string, signal: string): Subscription {
    const key = subscriptionKey(object, signal);
    let subscription = this.#subscriptions.get(key);
    if (!subscription) {
      subscription = new Subscription();
      this.#subscriptions.set(key, subscription);
    }
    return subscription;
  }

  /** Connects a local slot; resolves once the daemon delivers this signal to us. */
  async connect(object: string, signal: string, slot: Slot<unknown[]>, timeoutMs: number): Promise<void> {
    const subscription = this.get(object, signal);
    subscription.timeout = timeoutMs;
    subscription.slots.connect(slot);
    try {
      await this.#subscribe(subscription, object, signal, timeoutMs);
    } catch (error) {
      subscription.slots.disconnect(slot);
      throw error;
    }
  }

  /** Asks the daemon to deliver, unless it does already or no slot is left to deliver to. */
  #subscribe(subscription: Subscription, object: string, signal: string, timeoutMs: number): Promise<void> {
    return this.#enqueue(subscription, async () => {
      if (subscription.active || subscription.slots.listenerCount === 0) return;
      await this.#transport.subscribe(object, signal, timeoutMs);
      subscription.active = true;
    });
  }

  /** Disconnects a local slot; the remote subscription ends with the last one. */
  async disconnect(object: string, signal: string, slot: Slot<unknown[]>, timeoutMs: number): Promise<boolean> {
    const subscription = this.get(object, signal);
    if (!subscription.slots.disconnect(slot)) return false;
    await this.#enqueue(subscription, async () => {
      if (!subscription.active || subscription.slots.listenerCount > 0) return;
      subscription.active = false;
      await this.#transport.unsubscribe(object, signal, timeoutMs);
    });
    return true;
  }

  /**
   * Takes over the slots of a proxy that moved here from another connection: connected
   * locally at once, then subscribed (if no one here is yet). Resolves once the daemon
   * delivers to us; should that fail, the subscription is renewed on the next reconnect.
   */
  async adopt(object: string, signal: string, slots: readonly Slot<unknown[]>[], timeoutMs: number): Promise<void> {
    const subscription = this.get(object, signal);
    subscription.timeout = timeoutMs;
    for (const slot of slots) subscription.slots.connect(slot);
    try {
      await this.#subscribe(subscription, object, signal, timeoutMs);
    } catch (error) {
      subscription.renew = true;
      throw error;
    }
  }

  /** Delivers an event to the local slots and acknowledges it (once per turn of the event loop). */
  onEvent(event: EventMessage): void {
    this.#lastSeq = event.id;
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      setImmediate(() => {
        this.#ackScheduled = false;
        this.#transport.ack(this.#lastSeq);
      });
    }
    const subscription = this.#subscriptions.get(subscriptionKey(event.object, event.signal));
    if (!subscription) return;
    if (event.dropped > 0) {
      subscription.dropped += event.dropped;
      subscription.gaps.emit({ reason: "overflow", count: event.dropped });
    }
    let args: unknown;
    try {
      args = decodeValue(event.args);
    } catch (error) {
      process.emitWarning(`an event of ${event.object}.${event.signal} could not be decoded: ${String(error)}`, "PyroSignalWarning");
      return;
    }
    if (Array.isArray(args)) subscription.slots.emit(...args);
  }

  /** The connection dropped: the daemon forgot our subscriptions and our event sequence. */
  onDisconnect(): void {
    this.#lastSeq = 0;
    for (const subscription of this.#subscriptions.values()) {
      if (!subscription.active) continue;
      subscription.active = false;
      subscription.renew = true;
    }
  }

  /** The connection is back: renew what was active and report the gap. */
  onReconnect(): void {
    for (const [key, subscription] of this.#subscriptions) {
      if (!subscription.renew) continue;
      subscription.renew = false;
      const [object, signal] = splitSubscriptionKey(key);
      void this.#enqueue(subscription, async () => {
        if (subscription.active || subscription.slots.listenerCount === 0) return;
        await this.#transport.subscribe(object, signal, subscription.timeout);
        subscription.active = true;
        subscription.gaps.emit({ reason: "reconnect" });
      }).catch((error: unknown) => {
        // Renewal failed (daemon gone again, or the object no longer exists): retried on the next reconnect.
        subscription.renew = true;
        process.emitWarning(`re-subscribing to ${object}.${signal} failed: ${String(error)}`, "PyroSignalWarning");
      });
    }
  }

  #enqueue(subscription: Subscription, step: () => Promise<void>): Promise<void> {
    const next = subscription.chain.then(step);
    subscription.chain = next.catch(() => {});
    return next;
  }
}
