import type { Signal, Slot } from "../signal.js";
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

/** The RemoteSignal of one proxy; remembers its slots so the proxy's $close disconnects them. */
export class ProxySignal implements RemoteSignal<unknown[]> {
  readonly #channel: Channel;
  readonly #object: string;
  readonly #name: string;
  readonly #timeout: () => number;
  readonly #slots: Slot<unknown[]>[] = [];

  constructor(channel: Channel, object: string, name: string, timeout: () => number) {
    this.#channel = channel;
    this.#object = object;
    this.#name = name;
    this.#timeout = timeout;
  }

  async connect(slot: Slot<unknown[]>): Promise<() => Promise<void>> {
    if (typeof slot !== "function") throw new TypeError("a slot must be a function");
    await this.#channel.subscriptions.connect(this.#object, this.#name, slot, this.#timeout());
    this.#slots.push(slot);
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
    return this.#channel.subscriptions.get(this.#object, this.#name).gaps;
  }

  /** Disconnects every slot this proxy connected (on $close), waiting at most `timeoutMs` for each. */
  async disconnectAll(timeoutMs: number): Promise<void> {
    for (const slot of this.#slots.splice(0)) {
      await this.#channel.subscriptions.disconnect(this.#object, this.#name, slot, timeoutMs).catch(() => false);
    }
  }
}
