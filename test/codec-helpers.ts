/** Helpers of the codec-*.test.ts files: a value through the wire, binary values of every type and how to compare them, a registered class. */
import { expect } from "vitest";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import { registerClass } from "../src/index.js";
import { decodeMessage, encodeMessage } from "../src/protocol/frames.js";

/** Encodes a value as a result message, decodes the frames as a socket would deliver them. */
export function viaWire(value: unknown): unknown {
  const frames = encodeMessage({ kind: "result", id: 1, value: encodeValue(value) }).map((f) =>
    typeof f === "string" ? Buffer.from(f) : Buffer.from(f.buffer, f.byteOffset, f.byteLength),
  );
  const message = decodeMessage(frames);
  if (message.kind !== "result") throw new Error(`expected a result, got ${message.kind}`);
  return decodeValue(message.value);
}

/** The bytes a binary value views. */
export function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
  return value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Expects the same binary type holding the same bytes. */
export function expectSameBinary(actual: unknown, expected: ArrayBufferView | ArrayBuffer): void {
  expect((actual as object).constructor).toBe(expected.constructor);
  expect(bytesOf(actual as ArrayBufferView | ArrayBuffer).equals(bytesOf(expected))).toBe(true);
}

/** Every typed array type, filled with values that show the element type. */
export const typedArrays = (): ArrayBufferView[] => [
  Int8Array.of(-128, -1, 0, 127),
  Uint8Array.of(0, 1, 254, 255),
  Uint8ClampedArray.of(0, 128, 255),
  Int16Array.of(-32768, -1, 32767),
  Uint16Array.of(0, 65535, 258),
  Int32Array.of(-2147483648, -1, 2147483647),
  Uint32Array.of(0, 4294967295, 16909060),
  Float32Array.of(1.5, -0, Number.POSITIVE_INFINITY, Number.NaN),
  Float64Array.of(Math.PI, -0, Number.MIN_VALUE, Number.NaN),
  BigInt64Array.of(-(2n ** 63n), -1n, 2n ** 63n - 1n),
  BigUint64Array.of(0n, 2n ** 64n - 1n, 1234567890123456789n),
];

export const binaries = (): (ArrayBufferView | ArrayBuffer)[] => [
  Buffer.from("binary \x00\xff payload", "latin1"),
  ...typedArrays(),
  Uint8Array.of(1, 2, 3, 4, 5).buffer,
  new DataView(Uint8Array.of(9, 8, 7, 6).buffer),
];

export const nameOf = (v: object): string => v.constructor.name;

export class Point {
  constructor(
    public x: number,
    public y: number,
    public seen: Date = new Date(0),
  ) {}
  norm(): number {
    return Math.hypot(this.x, this.y);
  }
}
registerClass(Point);
