/** Binary values in the value codec: each travels as an attachment frame and comes back as the same type. */
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import { SerializeError } from "../src/index.js";
import type { Payload } from "../src/protocol/message.js";
import { binaries, bytesOf, expectSameBinary, nameOf, typedArrays, viaWire } from "./codec-helpers.js";

describe("binary values", () => {
  it.each(binaries().map((b) => [nameOf(b), b] as const))("sends a %s as an attachment and rebuilds the same type", (_name, value) => {
    const payload = encodeValue(value);
    expect(payload.attachments).toHaveLength(1);
    expect(Buffer.from(payload.attachments[0]!).equals(bytesOf(value))).toBe(true);
    expectSameBinary(viaWire(value), value);
  });

  it("keeps typed array element values, -0 and NaN included", () => {
    for (const value of typedArrays()) {
      const decoded = viaWire(value) as ArrayLike<unknown>;
      expect(Array.from(decoded), nameOf(value)).toStrictEqual(Array.from(value as unknown as ArrayLike<unknown>));
    }
  });

  it("keeps a 1 MiB Buffer out of the JSON body", () => {
    const big = Buffer.alloc(1 << 20, 0xab);
    big[12345] = 1;
    const payload = encodeValue({ frame: big });
    expect(JSON.stringify(payload.value).length).toBeLessThan(200);
    expect(payload.attachments).toHaveLength(1);
    expect(payload.attachments[0]!.byteLength).toBe(1 << 20);
    const decoded = viaWire({ frame: big }) as { frame: Buffer };
    expect(Buffer.isBuffer(decoded.frame)).toBe(true);
    expect(decoded.frame.equals(big)).toBe(true);
  });

  it("keeps every typed array of 1 MiB out of the JSON body", () => {
    for (const value of [new Float64Array(1 << 17), new Float32Array(1 << 18), new BigUint64Array(1 << 17), new Int16Array(1 << 19)]) {
      const payload = encodeValue([value]);
      expect(JSON.stringify(payload.value).length, nameOf(value)).toBeLessThan(200);
      expect(payload.attachments[0]!.byteLength).toBe(1 << 20);
    }
  });

  it("sends only the bytes a view covers, not its whole buffer", () => {
    const backing = new ArrayBuffer(64);
    new Uint8Array(backing).forEach((_, i, a) => (a[i] = i));
    const view = new Float64Array(backing, 16, 2);
    const payload = encodeValue(view);
    expect(payload.attachments[0]!.byteLength).toBe(16);
    expectSameBinary(viaWire(view), view);
    expect(viaWire(Buffer.from(backing, 5, 3))).toStrictEqual(Buffer.from([5, 6, 7]));
    expectSameBinary(viaWire(new DataView(backing, 3, 4)), new DataView(backing, 3, 4));
  });

  it("finds binary values at any depth and gives each its own frame", () => {
    const value = {
      meta: { name: "scan", when: new Date(0) },
      channels: new Map<string, unknown>([
        ["a", { data: Float32Array.of(1, 2), gain: 2n }],
        ["b", [Int16Array.of(-1), { deeper: [new DataView(Uint8Array.of(1).buffer)] }]],
      ]),
      frames: [{ raw: Buffer.from([1]) }, { raw: Buffer.from([2, 3]) }],
      blobs: new Set<unknown>([Uint8ClampedArray.of(200), Uint8Array.of(7).buffer]),
      nested: [[[[BigInt64Array.of(-5n)]]]],
    };
    const payload = encodeValue(value);
    expect(payload.attachments).toHaveLength(8);
    const decoded = viaWire(value) as typeof value;
    expect(decoded).toStrictEqual(value);
    const a = decoded.channels.get("a") as { data: Float32Array };
    expectSameBinary(a.data, Float32Array.of(1, 2));
    expect([...decoded.blobs].map((b) => nameOf(b as object))).toEqual(["Uint8ClampedArray", "ArrayBuffer"]);
    expectSameBinary(decoded.nested[0]![0]![0]![0]!, BigInt64Array.of(-5n));
    expect(Buffer.isBuffer(decoded.frames[1]!.raw)).toBe(true);
  });

  it("sends a binary value referenced twice once, and rebuilds one object", () => {
    const shared = Buffer.from([1, 2, 3]);
    const payload = encodeValue({ a: shared, b: [shared] });
    expect(payload.attachments).toHaveLength(1);
    const decoded = viaWire({ a: shared, b: [shared] }) as { a: Buffer; b: Buffer[] };
    expect(decoded.a).toBe(decoded.b[0]);
    expect(decoded.a).toStrictEqual(shared);
  });

  it.each(binaries().map((b) => [nameOf(b), b] as const))("decodes a %s from an attachment at an unaligned offset", (_name, value) => {
    const payload = encodeValue([value]);
    const frame = payload.attachments[0]!;
    const larger = new Uint8Array(frame.byteLength + 3);
    larger.set(frame, 1);
    const unaligned: Payload = { value: payload.value, attachments: [larger.subarray(1, 1 + frame.byteLength)] };
    expect(unaligned.attachments[0]!.byteOffset).toBe(1);
    const [decoded] = decodeValue(unaligned) as unknown[];
    expectSameBinary(decoded, value);
  });

  it("refuses a typed array frame whose length is not a multiple of the element size", () => {
    const payload = encodeValue(Float64Array.of(1));
    const broken: Payload = { value: payload.value, attachments: [new Uint8Array(7)] };
    expect(() => decodeValue(broken)).toThrow(SerializeError);
    expect(() => decodeValue(broken)).toThrow(/Float64Array frame length 7 is not a multiple of 8/);
  });

  it("refuses a placeholder that names no attachment frame", () => {
    const payload = encodeValue(Buffer.from([1]));
    expect(() => decodeValue({ value: payload.value, attachments: [] })).toThrow(SerializeError);
    expect(() => decodeValue({ value: payload.value, attachments: [] })).toThrow(/binary placeholder 0 does not name an attachment frame/);
    expect(() => decodeValue({ value: { json: "0", meta: payload.value.meta }, attachments: [new Uint8Array(1)] })).toThrow(
      /binary placeholder "0" does not name an attachment frame/,
    );
  });
});
