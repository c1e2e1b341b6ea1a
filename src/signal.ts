/**
 * A local signal/slot: `emit(...args)` calls every connected slot in order.
 * Exposed objects declare signals as members; clients connect to them remotely.
 */

export type Slot<Args extends unknown[]> = (...args: Args) => unknown;

/** Called when a slot throws, so a failing slot never stops the others and is never silent. */
export type SlotErrorHandler = (error: unknown, signal: Signal<never[]>) => void;

const defaultSlotErrorHandler: SlotErrorHandler = (error) => {
  // process.emitWarning reaches the user without crashing the emitter.
  process.emitWarning(`a signal slot threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, "SignalSlotError");
};

export class Signal<Args extends unknown[] = []> {
  #slots: Slot<Args>[] = [];
  #onSlotError: SlotErrorHandler;

  constructor(options: { onSlotError?: SlotErrorHandler } = {}) {
    this.#onSlotError = options.onSlotError ?? defaultSlotErrorHandler;
  }

  /** Connects a slot; returns a function that disconnects this connection (once). */
  connect(slot: Slot<Args>): () => void {
    this.#slots = [...this.#slots, slot];
    let connected = true;
    return () => {
      if (connected) this.disconnect(slot);
      connected = false;
    };
  }

  /** Disconnects one connection of `slot`; returns whether it was connected. */
  disconnect(slot: Slot<Args>): boolean {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return false;
    this.#slots = this.#slots.filter((_, i) => i !== index);
    return true;
  }

  /** Resolves with the arguments of the next emission. */
  once(): Promise<Args> {
    return new Promise((resolve) => {
      const slot = (...args: Args): void => {
        this.disconnect(slot);
        resolve(args);
      };
      this.connect(slot);
    });
  }

  /** Calls every slot connected at the time of the call, in connection order. */
  emit(...args: Args): void {
    // Slots array is replaced, never mutated, so (dis)connecting during emit is safe.
    for (const slot of this.#slots) {
      try {
        const result = slot(...args);
        if (result instanceof Promise) result.catch((error: unknown) => this.#reportSlotError(error));
      } catch (error) {
        this.#reportSlotError(error);
      }
    }
  }

  get listenerCount(): number {
    return this.#slots.length;
  }

  #reportSlotError(error: unknown): void {
    this.#onSlotError(error, this as unknown as Signal<never[]>);
  }
}

export function isSignal(value: unknown): value is Signal<unknown[]> {
  return value instanceof Signal;
}
