import { Signal, type Slot } from "../signal.js";
import type { Channel } from "./channel.js";
import type { SignalGap } from "./subscriptions.js";

/** A signal of a remote object, as a proxy member: connect local slots to it. */
export interface RemoteSignal<Args extends unknown[]> {
  /** Connects a slot. Once this resolves, every later emission reaches it. Resolves with a function that disconnects it. */
  connect(slot: Slot<Args>): Promise<() => Promise<void>>;
  /** Disconnects a slot; resolves with whether it was connected. */
  disconnect(slot: Slot<Args>): Promise<boolean>;
  /** Resolves with the arguments of the next emission. */
  once(): Promise<Args>;
  /** How many events the daemon dropped for this connection because they were read too slowly. */
  readonly dropped: number;
  /** Emits when events may have been missed: after a reconnect, or when the daemon dropped some. */
  readonly missed: Pick<Signal<[gap: SignalGap]>, "connect" | "disconnect" | "once">;
}

/**
 * The RemoteSignal of one proxy; remembers its slots so the proxy's $close disconnects them,
 * and so a proxy that moves to another connection takes them along.
 */
export class ProxySignal implements RemoteSignal<unknown[]> {
  #channel: Channel;
  #object: string;
  readonly #name: string;
  readonly #timeout: () => number;
  readonly #ready: () => unknown;
  readonly #slots: Slot<unknown[]>[] = [];
  /** This proxy's own gap signal, fed by the connection's: it stays the same when the proxy moves. */
  readonly #missed = new Signal<[SignalGap]>();
  readonly #forward = (gap: SignalGap): void => this.#missed.emit(gap);

  /** `ready` resolves once the proxy has a usable connection (it may be moving to another). */
  constructor(channel: Channel, object: string, name: string, timeout: () => number, ready: () => unknown = () => undefined) {
    this.#channel = channel;
    this.#object = object;
    this.#name = name;
    this.#timeout = timeout;
    this.#ready = ready;
    this.#gaps().connect(this.#forward);
  }

  async connect(slot: Slot<unknown[]>): Promise<() => Promise<void>> {
    if (typeof slot !== "function") throw new TypeError("a slot must be a function");
    await this.#ready();
    const channel = this.#channel;
    const object = this.#object;
    await channel.subscriptions.connect(object, this.#name, slot, this.#timeout());
    this.#slots.push(slot);
    if (channel !== this.#channel || object !== this.#object) {
      // The proxy moved while this subscription was on its way: follow it.
      await channel.subscriptions.disconnect(object, this.#name, slot, this.#timeout()).catch(() => false);
      await this.#channel.subscriptions.adopt(this.#object, this.#name, [slot], this.#timeout());
    }
    return async () => {
      await this.disconnect(slot);
    };
  }

  async disconnect(slot: Slot<unknown[]>): Promise<boolean> {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return false;
    this.#slots.splice(index, 1);
    return this.#channel.subscriptions.disconnect(this.#object, this.#name, slot, this.#timeout());
  }

  async once(): Promise<unknown[]> {
    let resolve!: (args: unknown[]) => void;
    const next = new Promise<unknown[]>((r) => (resolve = r));
    let fired = false;
    const slot = (...args: unknown[]): void => {
      if (fired) return;
      fired = true;
      resolve(args);
      this.disconnect(slot).catch(() => {});
    };
    await this.connect(slot);
    return next;
  }

  get dropped(): number {
    return this.#channel.subscriptions.get(this.#object, this.#name).dropped;
  }

  get missed(): Signal<[SignalGap]> {
    return this.#missed;
  }

  /**
   * Moves every slot to the same signal of the object at `uri`, reached through `channel`
   * (the old connection is gone or about to be released). The slots stay connected; once
   * the new daemon delivers, a "reconnect" gap naming `uri` is reported.
   */
  async moveTo(channel: Channel, object: string, uri: string): Promise<void> {
    const timeout = this.#timeout();
    this.#gaps().disconnect(this.#forward);
    const from = { channel: this.#channel, object: this.#object };
    this.#channel = channel;
    this.#object = object;
    this.#gaps().connect(this.#forward);
    const slots = [...this.#slots];
    // Local only while the old connection is down; bounded if it happens to be back.
    for (const slot of slots) void from.channel.subscriptions.disconnect(from.object, this.#name, slot, timeout).catch(() => false);
    if (slots.length === 0) return;
    try {
      await channel.subscriptions.adopt(object, this.#name, slots, timeout);
      this.#missed.emit({ reason: "reconnect", relocatedTo: uri });
    } catch (error) {
      process.emitWarning(`subscribing to ${object}.${this.#name} at ${uri} after moving there failed: ${String(error)}`, "PyroSignalWarning");
    }
  }

  /** Disconnects every slot this proxy connected (on $close), waiting at most `timeoutMs` for each. */
  async disconnectAll(timeoutMs: number): Promise<void> {
    this.#gaps().disconnect(this.#forward);
    for (const slot of this.#slots.splice(0)) {
      await this.#channel.subscriptions.disconnect(this.#object, this.#name, slot, timeoutMs).catch(() => false);
    }
  }

  #gaps(): Signal<[SignalGap]> {
    return this.#channel.subscriptions.get(this.#object, this.#name).gaps;
  }
}
