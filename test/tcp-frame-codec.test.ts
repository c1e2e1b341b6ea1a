import { describe, expect, it } from "vitest";
import { MessageTooLargeError, ProtocolError } from "../src/index.js";
import { encodeFrames, encodeInto, FrameDecoder, HEARTBEAT, PREAMBLE } from "../src/transport/tcp/frame-codec.js";
import { prng } from "./seeded.js";

const MiB = 1024 * 1024;

/** The bytes a sender writes: the preamble, then each message. */
function stream(messages: readonly (readonly (Uint8Array | string)[])[]): Buffer {
  return Buffer.concat([PREAMBLE, ...messages.flatMap((m) => (m.length === 0 ? [HEARTBEAT] : encodeFrames(m)))]);
}

/** Feeds `bytes` to a decoder in chunks of the sizes `next()` picks. */
function decodeInChunks(bytes: Buffer, next: () => number, max = 64 * MiB): Buffer[][] {
  const decoder = new FrameDecoder(max);
  const out: Buffer[][] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = Math.max(1, Math.min(bytes.length - at, next()));
    out.push(...decoder.push(bytes.subarray(at, at + size)));
    at += size;
  }
  return out;
}

describe("TCP frame codec", () => {
  it("encodes small messages one after another into one buffer, as encodeFrames would, and refuses what may not fit", () => {
    const messages = [["header", "héllo ✓ 𝄞"], [Buffer.from([0, 1, 2]), ""], [new Uint8Array(16 * 1024).fill(7)], ["x"]];
    const slab = Buffer.alloc(64 * 1024);
    let at = 0;
    for (const message of messages) at = encodeInto(message, slab, at);
    expect(slab.subarray(0, at)).toEqual(Buffer.concat(messages.flatMap((m) => encodeFrames(m))));
    const hex = (frame: Uint8Array | string): string => Buffer.from(frame).toString("hex");
    expect(decodeInChunks(Buffer.concat([PREAMBLE, slab.subarray(0, at)]), () => 7).map((m) => m.map(hex))).toEqual(messages.map((m) => m.map(hex)));
    // A binary frame over 16 KiB goes by reference (encodeFrames), and a string is reserved 3 bytes per unit.
    expect(encodeInto([new Uint8Array(16 * 1024 + 1)], slab, 0)).toBe(-1);
    expect(encodeInto(["a".repeat(100)], Buffer.alloc(300), 0)).toBe(-1);
    expect(encodeInto(["a".repeat(100)], Buffer.alloc(308), 0)).toBe(108);
  });

  it("gives back every message, frame for frame, however the stream is cut", () => {
    const random = prng(7);
    const messages = [
      ["header", "[1,2]"],
      [],
      [Buffer.alloc(0), "é ü 漢字"],
      [Buffer.alloc(200_000, 3), "x", new Uint8Array([1, 2, 3])],
      ...Array.from({ length: 50 }, (_, i) => [`m${i}`, Buffer.alloc(Math.floor(random() * 3000), i)]),
    ];
    const bytes = stream(messages);
    const expected = messages.map((m) => m.map((f) => Buffer.from(typeof f === "string" ? Buffer.from(f) : f)));
    for (const next of [() => bytes.length, () => 1, () => 7, () => Math.floor(random() * 70_000)]) {
      expect(decodeInChunks(bytes, next)).toEqual(expected);
    }
  });

  it("refuses a peer that does not begin with the preamble", () => {
    const decoder = new FrameDecoder(MiB);
    expect(() => decoder.push(Buffer.from("GET / HTTP/1.1\r\n\r\n"))).toThrow(ProtocolError);
  });

  it("refuses a length prefix of 4 GiB before allocating anything", () => {
    const decoder = new FrameDecoder(64 * MiB);
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0);
    header.writeUInt32BE(0xffff_ffff, 4);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decoder.push(Buffer.concat([PREAMBLE, header]))).toThrow(MessageTooLargeError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MiB);
  });

  it("counts every frame of a message against the limit, whether it comes in pieces or whole in one chunk", () => {
    const bytes = stream([[Buffer.alloc(600), Buffer.alloc(600)]]);
    for (const next of [() => 100, () => bytes.length]) {
      expect(() => decodeInChunks(bytes, next, 1000)).toThrow(MessageTooLargeError);
      expect(decodeInChunks(bytes, next, 1200)).toHaveLength(1);
    }
  });

  it("refuses a message claiming more frames than allowed", () => {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(0xffff_ffff, 0);
    expect(() => new FrameDecoder(64 * MiB).push(Buffer.concat([PREAMBLE, count]))).toThrow(ProtocolError);
  });
});
