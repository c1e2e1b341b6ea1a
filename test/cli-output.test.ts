/** How the CLI shows values on a terminal (cli/output.ts): binary values summarised, not listed byte by byte. */
import { describe, expect, it } from "vitest";
import { show } from "../cli/output.js";

describe("show (the CLI's readable form of a value)", () => {
  it("summarises bytes with their count and the first 32 in hex, whatever their view", () => {
    expect(show(new Uint8Array([1, 2, 255]))).toBe("<3 bytes: 01 02 ff>");
    expect(show(Buffer.from([9]))).toBe("<1 byte: 09>");
    expect(show(new Uint8Array(0))).toBe("<0 bytes>");
    const frame = Buffer.alloc(1024 * 1024, 0xab);
    expect(show(frame)).toBe(`<1048576 bytes: ${Array(32).fill("ab").join(" ")} …>`);
    // A view into a larger buffer shows its own bytes only.
    expect(show(Buffer.from([0, 1, 2, 3]).subarray(1, 3))).toBe("<2 bytes: 01 02>");
  });

  it("shows bytes inside other values the same way, and bigints, Maps and Sets as JSON can hold them", () => {
    expect(JSON.parse(show({ frame: Buffer.from("hi"), n: 5n, m: new Map([["a", 1]]), s: new Set([1, 2]) }))).toEqual({ frame: "<2 bytes: 68 69>", n: "5", m: { a: 1 }, s: [1, 2] });
    expect(show("text")).toBe("text");
    expect(show(undefined)).toBe("undefined");
  });
});
