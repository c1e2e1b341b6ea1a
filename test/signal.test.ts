import { describe, expect, it } from "vitest";
import { Signal } from "../src/index.js";

/** A Signal whose slot errors are collected instead of reported as warnings. */
function signalCollectingErrors<Args extends unknown[]>(): { signal: Signal<Args>; errors: unknown[] } {
  const errors: unknown[] = [];
  const signal = new Signal<Args>({ onSlotError: (error) => errors.push(error) });
  return { signal, errors };
}

describe("Signal", () => {
  it("calls slots in connection order with the emitted arguments", () => {
    const signal = new Signal<[mw: number, unit: string]>();
    const calls: string[] = [];
    signal.connect((mw, unit) => calls.push(`a ${mw} ${unit}`));
    signal.connect((mw, unit) => calls.push(`b ${mw} ${unit}`));
    signal.emit(5, "mW");
    signal.emit(6, "W");
    expect(calls).toEqual(["a 5 mW", "b 5 mW", "a 6 W", "b 6 W"]);
  });

  it("emits with no slots connected", () => {
    expect(() => new Signal<[number]>().emit(1)).not.toThrow();
  });

  it("connect returns a function that disconnects the slot", () => {
    const signal = new Signal<[number]>();
    const seen: number[] = [];
    const off = signal.connect((v) => seen.push(v));
    signal.emit(1);
    off();
    signal.emit(2);
    expect(seen).toEqual([1]);
    expect(signal.listenerCount).toBe(0);
  });

  it("disconnect(slot) says whether the slot was connected", () => {
    const signal = new Signal();
    const slot = (): void => {};
    expect(signal.disconnect(slot)).toBe(false);
    signal.connect(slot);
    expect(signal.disconnect(slot)).toBe(true);
    expect(signal.disconnect(slot)).toBe(false);
  });

  it("counts connections, the same slot connected twice being called twice", () => {
    const signal = new Signal();
    let calls = 0;
    const slot = (): void => {
      calls++;
    };
    expect(signal.listenerCount).toBe(0);
    signal.connect(slot);
    signal.connect(slot);
    expect(signal.listenerCount).toBe(2);
    signal.emit();
    expect(calls).toBe(2);
    expect(signal.disconnect(slot)).toBe(true);
    expect(signal.listenerCount).toBe(1);
    signal.emit();
    expect(calls).toBe(3);
  });

  // Fixed bug, kept as a regression test: src/signal.ts connect() returns `() => this.disconnect(slot)`, not tied to its own
  // connection: calling it twice removes another connection of the same slot.
  it("a disconnect function removes only its own connection, however often it is called", () => {
    const signal = new Signal();
    const slot = (): void => {};
    const offFirst = signal.connect(slot);
    signal.connect(slot);
    offFirst();
    offFirst();
    expect(signal.listenerCount).toBe(1);
  });

  it("once() resolves with the next emission's arguments and disconnects itself", async () => {
    const signal = new Signal<[number, string]>();
    const next = signal.once();
    expect(signal.listenerCount).toBe(1);
    signal.emit(1, "first");
    signal.emit(2, "second");
    await expect(next).resolves.toEqual([1, "first"]);
    expect(signal.listenerCount).toBe(0);
  });

  it("once() called twice gives two waiters that both see the next emission", async () => {
    const signal = new Signal<[number]>();
    const a = signal.once();
    const b = signal.once();
    signal.emit(9);
    expect(await Promise.all([a, b])).toEqual([[9], [9]]);
    expect(signal.listenerCount).toBe(0);
  });

  it("does not call a slot connected during an emission until the next one", () => {
    const signal = new Signal<[number]>();
    const seen: string[] = [];
    signal.connect((v) => {
      seen.push(`first ${v}`);
      if (v === 1) signal.connect((w) => seen.push(`late ${w}`));
    });
    signal.emit(1);
    expect(seen).toEqual(["first 1"]);
    signal.emit(2);
    expect(seen).toEqual(["first 1", "first 2", "late 2"]);
  });

  it("still calls, in that emission, a slot disconnected by an earlier one; not after", () => {
    const signal = new Signal();
    const seen: string[] = [];
    const second = (): void => {
      seen.push("second");
    };
    signal.connect(() => {
      seen.push("first");
      signal.disconnect(second);
    });
    signal.connect(second);
    signal.connect(() => seen.push("third"));
    signal.emit();
    expect(seen).toEqual(["first", "second", "third"]);
    signal.emit();
    expect(seen).toEqual(["first", "second", "third", "first", "third"]);
  });

  it("lets a slot disconnect itself during an emission", () => {
    const signal = new Signal();
    const seen: string[] = [];
    const self = (): void => {
      seen.push("self");
      signal.disconnect(self);
    };
    signal.connect(self);
    signal.connect(() => seen.push("other"));
    signal.emit();
    signal.emit();
    expect(seen).toEqual(["self", "other", "other"]);
  });

  it("reports a slot that throws and still calls the others", () => {
    const { signal, errors } = signalCollectingErrors<[number]>();
    const boom = new Error("boom");
    const seen: number[] = [];
    signal.connect(() => {
      throw boom;
    });
    signal.connect((v) => seen.push(v));
    expect(() => signal.emit(3)).not.toThrow();
    expect(seen).toEqual([3]);
    expect(errors).toEqual([boom]);
  });

  it("reports a slot whose promise rejects and still calls the others", async () => {
    const reported: { error: unknown; signal: unknown }[] = [];
    const signal = new Signal<[number]>({ onSlotError: (error, from) => reported.push({ error, signal: from }) });
    const seen: number[] = [];
    signal.connect(async () => {
      throw new Error("async boom");
    });
    signal.connect((v) => seen.push(v));
    signal.emit(4);
    expect(seen).toEqual([4]);
    await expect.poll(() => reported.length).toBe(1);
    expect((reported[0]!.error as Error).message).toBe("async boom");
    expect(reported[0]!.signal).toBe(signal);
  });

  it("reports a thrown non-Error value as it was thrown", () => {
    const { signal, errors } = signalCollectingErrors();
    signal.connect(() => {
      throw "just a string";
    });
    signal.emit();
    expect(errors).toEqual(["just a string"]);
  });

  it("by default reports a failing slot as a process warning", async () => {
    const signal = new Signal();
    const warning = new Promise<Error>((resolve) => process.once("warning", resolve));
    const seen: string[] = [];
    signal.connect(() => {
      throw new Error("slot exploded");
    });
    signal.connect(() => seen.push("after"));
    signal.emit();
    expect(seen).toEqual(["after"]);
    const w = await warning;
    expect(w.name).toBe("SignalSlotError");
    expect(w.message).toContain("a signal slot threw: Error: slot exploded");
  });

  it("by default reports an async slot rejection as a process warning", async () => {
    const signal = new Signal();
    const warning = new Promise<Error>((resolve) => process.once("warning", resolve));
    signal.connect(async () => {
      throw new RangeError("late failure");
    });
    signal.emit();
    const w = await warning;
    expect(w.name).toBe("SignalSlotError");
    expect(w.message).toContain("RangeError: late failure");
  });
});
