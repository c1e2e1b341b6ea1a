import { describe, expect, it } from "vitest";
import { jsonText } from "../src/protocol/json-text.js";
import { prng } from "./seeded.js";

const EDGES: unknown[] = [
  "", "plain", "quote\"d", "back\\slash", "new\nline", "tab\t", "\u0000", "\u001f", "\u007f", "\u2028\u2029", "é ü 漢字",
  "😀", "\ud800", "x\udfffy", "</script>",
  0, -0, 1.5, -1e-7, 1e21, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity,
  true, false, null, undefined,
  [], [1, "a", true, null], [undefined], [NaN], ["\n"], [[1]], [{ a: 1 }], [() => 1], new Array(3),
  { a: [1, 2] }, { toJSON: () => "mine" }, Object.assign([1, 2], { toJSON: () => "array's own" }), new Date(0), 12n,
];

function randomValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * 8);
  switch (pick) {
    case 0:
      return Array.from({ length: Math.floor(next() * 12) }, () => String.fromCharCode(Math.floor(next() * 0xffff))).join("");
    case 1:
      return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return Math.floor(next() * 1e6);
    default:
      return depth > 1 ? "leaf" : Array.from({ length: Math.floor(next() * 6) }, () => randomValue(next, depth + 1));
  }
}

/** The text, or the error thrown (a BigInt cannot be written). */
function outcome(write: () => string | undefined): string | undefined {
  try {
    return write();
  } catch (error) {
    return `threw ${(error as Error).name}`;
  }
}

describe("jsonText (JSON.stringify, faster for small values)", () => {
  it("writes what JSON.stringify writes for every edge case", () => {
    for (const value of EDGES) expect(outcome(() => jsonText(value)), String(value)).toBe(outcome(() => JSON.stringify(value)));
  });

  it("writes what JSON.stringify writes for 20,000 random strings, numbers and arrays", () => {
    const next = prng(0x150);
    for (let i = 0; i < 20_000; i++) {
      const value = randomValue(next, 0);
      expect(jsonText(value)).toBe(JSON.stringify(value));
    }
  });
});
