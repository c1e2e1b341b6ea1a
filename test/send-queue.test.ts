import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { OutFrame } from "../src/protocol/frames.js";
import { SendQueue, type Batcher } from "../src/transport/send-queue.js";
import type { SendReceipt } from "../src/transport/transport.js";

/** What a zeromq.js socket would have been handed: one entry per native send. */
function recordingWriter(): { sends: string[][]; send(frames: OutFrame[]): Promise<void> } {
  const sends: string[][] = [];
  return {
    sends,
    send(frames) {
      sends.push(frames.map(String));
      return Promise.resolve();
    },
  };
}

const batcher: Batcher = { sameBatch: () => true, combine: (messages) => messages.flat(), maxBytes: 64 * 1024 };

function receipts(): { receipt: (name: string) => SendReceipt; outcomes: string[] } {
  const outcomes: string[] = [];
  return { outcomes, receipt: (name) => ({ sent: (error) => outcomes.push(error ? `${name}: ${error.message}` : name) }) };
}

describe("SendQueue (one native send at a time, batches under load)", () => {
  it("sends a lone message of a tick at once, in the caller's tick", async () => {
    const writer = recordingWriter();
    const queue = new SendQueue(writer, batcher);
    queue.send(["a"]);
    expect(writer.sends).toEqual([["a"]]);
    await nextTurn();
    queue.send(["b"]);
    expect(writer.sends).toEqual([["a"], ["b"]]);
    await queue.drained();
  });

  it("sends the rest of a burst made in one tick as one batch when the tick ends, each told it was sent", async () => {
    const writer = recordingWriter();
    const queue = new SendQueue(writer, batcher);
    const { receipt, outcomes } = receipts();
    queue.send(["first"], receipt("first"));
    await Promise.resolve(); // the first native send settles within the tick, as zeromq.js's do
    await Promise.resolve();
    for (const name of ["b", "c", "d"]) queue.send([name], receipt(name));
    expect(writer.sends).toEqual([["first"]]);
    await queue.drained();
    expect(writer.sends).toEqual([["first"], ["b", "c", "d"]]);
    expect(outcomes).toEqual(["first", "b", "c", "d"]);
  });

  it("fails what waits for the tick's end when cleared, and drained() still resolves", async () => {
    const writer = recordingWriter();
    const queue = new SendQueue(writer, batcher);
    const { receipt, outcomes } = receipts();
    queue.send(["first"], receipt("first"));
    await Promise.resolve();
    await Promise.resolve();
    queue.send(["late"], receipt("late"));
    const drained = queue.drained();
    queue.clear(new Error("closed"));
    await drained;
    await nextTurn();
    expect(writer.sends).toEqual([["first"]]);
    expect(outcomes).toEqual(["first", "late: closed"]);
  });

  it("clearing during a send fails only what waits: the messages in the send in progress are told by it", async () => {
    let finish: (error?: Error) => void = () => {};
    const sends: string[][] = [];
    const writer = { send: (frames: OutFrame[]) => (sends.push(frames.map(String)), new Promise<void>((resolve, reject) => (finish = (error) => (error ? reject(error) : resolve())))) };
    const queue = new SendQueue(writer);
    const { receipt, outcomes } = receipts();
    queue.send(["a"], receipt("a"));
    queue.send(["b"], receipt("b"));
    queue.clear(new Error("closed"));
    expect(outcomes).toEqual(["b: closed"]);
    finish(new Error("socket gone"));
    await queue.drained();
    expect(outcomes).toEqual(["b: closed", "a: socket gone"]);
    expect(sends).toEqual([["a"]]);
  });

  it("keeps order and tells every receipt once over thousands of messages queued behind slow sends", async () => {
    const sends: string[][] = [];
    const writer = { send: (frames: OutFrame[]) => (sends.push(frames.map(String)), new Promise<void>((resolve) => setImmediate(resolve))) };
    const queue = new SendQueue(writer);
    const { receipt, outcomes } = receipts();
    const names = Array.from({ length: 5000 }, (_, i) => `m${i}`);
    for (const name of names) queue.send([name], receipt(name));
    await queue.drained();
    expect(sends.flat()).toEqual(names);
    expect(outcomes).toEqual(names);
  });

  it("without a batcher sends every message alone, in order, none held back", async () => {
    const writer = recordingWriter();
    const queue = new SendQueue(writer);
    queue.send(["a"]);
    await Promise.resolve();
    await Promise.resolve();
    queue.send(["b"]);
    expect(writer.sends).toEqual([["a"], ["b"]]);
    queue.send(["c"]);
    await queue.drained();
    expect(writer.sends).toEqual([["a"], ["b"], ["c"]]);
  });
});
