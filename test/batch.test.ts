import { Dealer } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { encodeValue, decodeValue } from "../src/codec/values.js";
import { BATCH_CODE, decodeMessage, encodeBatch, encodeMessage, isBatch, splitBatch, type OutFrame } from "../src/protocol/frames.js";
import { endpointOf, ProtocolError } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";

const use = resources();
const toBuffers = (frames: OutFrame[]): Buffer[] => frames.map((f) => (typeof f === "string" ? Buffer.from(f) : Buffer.from(f)));
const call = (id: number, value: unknown): OutFrame[] => encodeMessage({ kind: "call", id, oneway: false, object: "laser", member: "echo", args: encodeValue([value]) });

describe("batch frames", () => {
  it("round trip several messages, attachments included", () => {
    const messages = [call(1, "a"), call(2, Buffer.from("bytes")), encodeMessage({ kind: "heartbeat", id: 0 })];
    const batch = toBuffers(encodeBatch(messages));
    expect(isBatch(batch)).toBe(true);
    expect(batch[0]![1]).toBe(BATCH_CODE);
    const split = splitBatch(batch);
    expect(split.map((m) => decodeMessage(m).kind)).toEqual(["call", "call", "heartbeat"]);
    expect(split[1]).toHaveLength(2); // header and body, one attachment
    expect(decodeMessage(split[0]!)).toMatchObject({ id: 1 });
    expect(isBatch(toBuffers(call(3, 1)))).toBe(false);
  });

  it("refuse batches whose frames do not add up, with ProtocolError", () => {
    const batch = toBuffers(encodeBatch([call(1, "a"), call(2, "b")]));
    const withCount = (count: number): Buffer[] => {
      const h = Buffer.from(batch[0]!);
      h.writeUInt32BE(count, 4);
      return [h, ...batch.slice(1)];
    };
    expect(() => splitBatch(withCount(0))).toThrow(/batch of 0 messages/);
    expect(() => splitBatch(withCount(3))).toThrow(/batch message 3 of 3 is missing/);
    expect(() => splitBatch(withCount(1))).toThrow(/beyond its 1 message/);
    expect(() => splitBatch([batch[0]!, batch[0]!, Buffer.from("[]")])).toThrow(ProtocolError);
    expect(() => splitBatch([batch[0]!, batch[1]!, batch[2]!.subarray(0, 5)])).toThrow(/batch message 2 of 2 is missing or truncated/);
  });
});

describe("batches on the wire", () => {
  let dealer: Dealer | undefined;
  afterEach(() => dealer?.close());

  it("a daemon runs every call of a batch and answers each; a broken batch gets one ProtocolError", async () => {
    const daemon = await use.daemon();
    daemon.register(new Laser(), "laser");
    dealer = new Dealer({ linger: 0, receiveTimeout: 3000 });
    dealer.connect(endpointOf(daemon.location));
    await dealer.send(encodeBatch([call(1, "one"), call(2, "two"), call(3, "three")]));
    const replies: { id: number; value: unknown }[] = [];
    while (replies.length < 3) {
      const frames = await dealer.receive();
      for (const message of isBatch(frames) ? splitBatch(frames) : [frames]) {
        const reply = decodeMessage(message);
        if (reply.kind === "result") replies.push({ id: reply.id, value: decodeValue(reply.value) });
      }
    }
    expect(replies.sort((a, b) => a.id - b.id)).toEqual([{ id: 1, value: "one" }, { id: 2, value: "two" }, { id: 3, value: "three" }]);
    const broken = toBuffers(encodeBatch([call(4, "x")]));
    broken[0]!.writeUInt32BE(2, 4);
    await dealer.send(broken);
    const error = decodeMessage(await dealer.receive());
    expect(error).toMatchObject({ kind: "error", id: 0 });
    if (error.kind !== "error") throw new Error("expected an error reply");
    expect((decodeValue(error.value) as { name: string }).name).toBe("ProtocolError");
  });

  it("a burst of oneway and two-way calls from a proxy arrives complete and in order", async () => {
    const daemon = await use.daemon();
    const laser = new Laser();
    const proxy = await use.connect<Laser>(daemon.register(laser));
    const oneway: Promise<void>[] = [];
    for (let i = 0; i < 5000; i++) oneway.push(proxy.blink(1));
    const echoes = await Promise.all(Array.from({ length: 2000 }, (_, i) => proxy.echo(i)));
    await Promise.all(oneway);
    expect(echoes).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    // Oneway calls were sent before the echoes and a connection keeps order.
    expect(laser.blinks).toBe(5000);
  });
});
