import { describe, expect, it } from "vitest";
import { parseJsonArray } from "../src/protocol/json-array.js";
import { prng } from "./seeded.js";

/** JSON.parse's value of the bytes read as UTF-8, or "threw" for text it refuses. */
function parsed(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString());
  } catch {
    return "threw";
  }
}

/** parseJsonArray's value must be JSON.parse's whenever it gives one (toEqual tells -0 from 0). */
function expectSameAsJsonParse(bytes: Buffer, names = 0): unknown[] | undefined {
  const fast = parseJsonArray(bytes, 0, names);
  if (fast !== undefined) expect(fast, JSON.stringify(bytes.toString())).toEqual(parsed(bytes));
  return fast;
}

/** Texts in the fast subset (read without JSON.parse), edges of its grammar included. */
const IN_SUBSET = [
  "[]", "[[]]", "[\"\"]", '["bench","echo",["pyro-ts benchmark payload 32 B.."]]', '["é ü 漢字 😀"]',
  "[0]", "[-0]", "[1,-1,10,123456789012345]", "[1234567890123456789]", "[-9007199254740993]", "[1.5,-0.25,0.0]",
  "[1e3,1E-3,-2.5e+10,1e400,-1e-400]", "[true,false,null]", "[[1,[2,[3]]],\"x\"]", '["\u007f"]',
];

/** Texts outside it: JSON.parse decides (a value where it is JSON, an error where it is not). */
const OUTSIDE = [
  "", "[", "]", "[,]", "[1,]", "[01]", "[-]", "[1.]", "[.5]", "[1e]", "[+1]", "[1 ]", "[ 1]", " []", "[]x", "[] ",
  '["a\\"b"]', '["a\\u0041"]', '["tab\tin"]', '["open]', '{"a":1}', '[{"a":1}]', "[nul]", "[tru]", "[fals]", "[NaN]",
  "[Infinity]", "[undefined]", '["a"]]', "[[1]", "1", '"s"',
];

describe("parseJsonArray (JSON.parse, faster for message bodies)", () => {
  it("reads the subset as JSON.parse does", () => {
    for (const text of IN_SUBSET) expect(expectSameAsJsonParse(Buffer.from(text)), text).toBeDefined();
  });

  it("leaves everything else to JSON.parse", () => {
    for (const text of OUTSIDE) expect(parseJsonArray(Buffer.from(text), 0), text).toBeUndefined();
  });

  it("reads from the start it is given, to the end of the bytes", () => {
    expect(parseJsonArray(Buffer.from('header["a",1]'), 6)).toEqual(["a", 1]);
    expect(parseJsonArray(Buffer.from('header["a",1]'), 0)).toBeUndefined();
  });

  it("decodes UTF-8, invalid sequences included, as the whole body decoded at once", () => {
    const cases = [[0xc3, 0xa9], [0xe6, 0xbc, 0xa2], [0xf0, 0x9f, 0x98, 0x80], [0xc3], [0xe6, 0xbc], [0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x80, 0x80]];
    for (const inner of cases) {
      const bytes = Buffer.concat([Buffer.from('["'), Buffer.from(inner), Buffer.from('","x"]')]);
      expect(expectSameAsJsonParse(bytes, 2), inner.join(" ")).toBeDefined();
    }
  });

  it("gives a name again when its bytes repeat, and a new one when they differ", () => {
    const first = parseJsonArray(Buffer.from('["laser","power",[1]]'), 0, 2)!;
    const again = parseJsonArray(Buffer.from('["laser","power",[2]]'), 0, 2)!;
    expect(again[0]).toBe(first[0]);
    expect(again).toEqual(["laser", "power", [2]]);
    expect(parseJsonArray(Buffer.from('["lasex","powe",[3]]'), 0, 2)).toEqual(["lasex", "powe", [3]]);
    expect(parseJsonArray(Buffer.from('["laser","power",[4]]'), 0, 2)).toEqual(["laser", "power", [4]]);
    // A name that is not ASCII is compared by its bytes, not its characters: é is two bytes, é in Latin-1 one.
    expect(parseJsonArray(Buffer.from('["é","x"]'), 0, 2)).toEqual(["é", "x"]);
    expect(expectSameAsJsonParse(Buffer.from([0x5b, 0x22, 0xe9, 0x22, 0x2c, 0x22, 0x78, 0x22, 0x5d]), 2)).toEqual(["\ufffd", "x"]);
  });

  it("agrees with JSON.parse on 20,000 random bodies and 20,000 random mutations of them", () => {
    const next = prng(0x7a5);
    const alphabet = '[]",0123456789.-+eE \\tnulrfase\u00e9\u6f22{}:\t\n\u0000';
    let fastOnes = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(JSON.stringify(randomBody(next, 0)));
      if (expectSameAsJsonParse(bytes, Math.floor(next() * 3)) !== undefined) fastOnes++;
      const text = bytes.toString();
      const cut = Math.floor(next() * (text.length + 1));
      const mutated = `${text.slice(0, cut)}${alphabet[Math.floor(next() * alphabet.length)]}${text.slice(cut + Math.floor(next() * 2))}`;
      expectSameAsJsonParse(Buffer.from(mutated));
    }
    // Most random bodies are in the subset: the comparison above is not vacuous.
    expect(fastOnes).toBeGreaterThan(15_000);
  });
});

function randomBody(next: () => number, depth: number): unknown[] {
  return Array.from({ length: Math.floor(next() * 5) }, () => randomItem(next, depth));
}

function randomItem(next: () => number, depth: number): unknown {
  switch (Math.floor(next() * 7)) {
    case 0:
      return Array.from({ length: Math.floor(next() * 10) }, () => String.fromCharCode(0x20 + Math.floor(next() * 0x3000))).join("");
    case 1:
      return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
    case 2:
      return Math.floor((next() - 0.5) * 10 ** Math.floor(next() * 20));
    case 3:
      return next() < 0.5;
    case 4:
      return null;
    case 5:
      return "ascii name";
    default:
      return depth > 2 ? 0 : randomBody(next, depth + 1);
  }
}
