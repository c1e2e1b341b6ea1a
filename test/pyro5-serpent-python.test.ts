/**
 * The serpent serializer against the real thing: Python's serpent 1.41 and Pyro5 5.15's
 * SerpentSerializer (from ../shared/peers, via test/pyro5-python.ts), in python3 children.
 * - Python → TypeScript: a rich sample dumped by Python (every code point, escapes, big ints,
 *   nan/inf, complex, sets, tuples, bytes both ways serpent writes them, nested, the call tuple)
 *   decodes to the value model.
 * - TypeScript → Python: what we encode, Pyro5 loads into exactly the expected Python values;
 *   floats come out byte for byte as Python's serpent writes them; seeded random values survive
 *   a round trip through Python.
 * - Differential: seeded mutations of valid payloads are decoded by us and by Python's
 *   literal_eval; where both accept, the values agree; where only one does, it is a documented difference.
 * Fixtures: test/fixtures/pyro5/serpent_dump.py and serpent_load.py.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { NamingError, SerializeError } from "../src/errors.js";
import { serpentSerializer } from "../src/pyro5/wire/serpent.js";
import { mustRunPyro5, pyro5Unavailable, runPython } from "./pyro5-python.js";
import { prng } from "./seeded.js";

const unavailable = pyro5Unavailable();
if (unavailable && mustRunPyro5) {
  it("runs against Python's serpent under CI", () => {
    throw new Error(`CI is set, so the serpent interop tests must run: ${unavailable}`);
  });
}

interface LoadCase { label: string; value: unknown; mode?: "loads" | "call" | "tobytes"; expect?: string; expectJson?: string }
interface LoadResult { ok: boolean; got?: string; want?: string; error?: string; redumped?: string; model?: unknown }

const SEED = Number(process.env.PYRO_SERPENT_FUZZ_SEED ?? 20_240_915);

/** Runs serpent_load.py over `cases` (each with a base64 payload and a mode); one result per case. */
async function loadInPython(cases: readonly Record<string, unknown>[]): Promise<LoadResult[]> {
  const run = await runPython("serpent_load.py", [], { input: JSON.stringify(cases), timeoutMs: 60_000 });
  if (run.code !== 0) throw new Error(`serpent_load.py failed (${run.code}): ${run.stderr.slice(-3000)}`);
  const results = JSON.parse(run.stdout) as LoadResult[];
  expect(results).toHaveLength(cases.length);
  return results;
}

const b64 = (value: unknown): string => serpentSerializer.encode(value).toString("base64");

/** Every code point from U+0000 to U+10FFFF in order, surrogates as lone code units (as Python's chr gives them). */
function allCodePoints(): string {
  const parts: string[] = [];
  for (let start = 0; start < 0x110000; start += 0x1000) {
    const chunk: number[] = [];
    for (let code = start; code < start + 0x1000; code++) chunk.push(code);
    parts.push(start < 0x10000 ? String.fromCharCode(...chunk) : String.fromCodePoint(...chunk));
  }
  return parts.join("");
}

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

const SAMPLE = { b: 1, a: [true, null], "it's": { é: 2 } };
const SAMPLES_FROM_PYTHON: [string, unknown][] = [
  ["none", null],
  ["true", true],
  ["empty_tuple", []],
  ["empty_set", []],
  ["empty_frozenset", []],
  ["one_tuple", [1]],
  ["empty_list", []],
  ["empty_dict", {}],
  ["numbers", [0, -1, 9007199254740991, 9007199254740992n, -9007199254740992n, 18446744073709551616n, -(10n ** 30n), 1.5, -0, 0.1,
    1e16, 1e-5, 1e300, 5e-324, 1.7976931348623157e308, NaN, Infinity, -Infinity, 3]],
  ["complex", [{ real: 1, imag: -2 }, { real: 0, imag: 2 }, { real: -1.5, imag: 0 }, { real: Infinity, imag: 1 }, { real: 0, imag: -Infinity }]],
  ["strings", ["", "plain", "it's", 'say "hi"', "both ' and \"", "back\\slash", "\x00\x01\x1f\x7f\x80\x9f\xa0\xad", "\n\r\t\x0b\x0c\x07\x08",
    "\u2028\u2029\u200b\ufeff\u0378", "é€😀\u{e0001}\u{10ffff}\u{f0000}", "\ud800", "\udfff", "a\udc00b\udbff", "ascii ~!@#$%^&*()_+{}|:<>?`-=[];,./"]],
  ["bytes", [Buffer.from([0, 1, 255]), Buffer.from("ab"), Buffer.alloc(0), Buffer.from("xyz")]],
  ["bytes_repr", [Buffer.from("\x00'\"\\\n\r\t\x7fabc\xff", "latin1"), Buffer.from("q")]],
  ["sets", [new Set([1, 2, 3]), new Set(["a"]), new Set([[1, 2]]), new Set([true, 2.5, "x"])]],
  ["nested", { list: [1, [2, 3], { x: null }], set: new Set([4]), t: [[]], deep: [[[[[]]]]], d: { e: { f: [{}] } } }],
  ["indented", { d: { e: { f: [{}] } }, deep: [[[[[]]]]], list: [1, [2, 3], { x: null }], set: new Set([4]), t: [[]] }],
  ["dict_keys", { 7: "a", "2.5": "b", "3.0": "c", "1e+16": "d", Infinity: "e", "-Infinity": "e2", false: "f", s: "g", "-3": "h", "1180591620717411303424": "i" }],
  ["special", ["2024-01-02T03:04:05.123456", "2024-01-02", "01:02:03", 1.5, "1.10", "00000000-0000-0000-0000-000000000005"]],
  ["exception", { __class__: "builtins.ValueError", __exception__: true, args: ["bad", 3], attributes: {} }],
  ["uri", { __class__: "Pyro5.core.URI", state: ["PYRO", "obj", null, "localhost", 9090] }],
  ["call_empty", ["obj", "m", [], {}]],
];

const TO_PYTHON: LoadCase[] = [
  { label: "null", value: null, expect: "None" },
  { label: "undefined", value: undefined, expect: "None" },
  { label: "booleans", value: [true, false], expect: "[True, False]" },
  { label: "ints", value: [0, -1, 42, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e20], expect: "[0, -1, 42, 2**53 - 1, 2**53, 10**20]" },
  { label: "floats", value: [1.5, 0.1, 1e-7, 1e21, 5e-324, 1.7976931348623157e308, -0], expect: "[1.5, 0.1, 1e-07, 1e21, 5e-324, 1.7976931348623157e308, -0.0]" },
  { label: "NaN and infinities (Pyro5 rebuilds serpent's NaN dict)", value: [NaN, Infinity, -Infinity], expect: "[nan, inf, -inf]" },
  { label: "bigints", value: [2n ** 100n, -(2n ** 100n), 0n], expect: "[2**100, -2**100, 0]" },
  {
    label: "strings with every kind of escape, lone surrogates included",
    value: ["", "it's", 'say "hi"', "both ' and \"", "back\\slash", "\x00\x01\x1f\x7f\x80\x9f\xa0\xad\n\r\t\x0b\x0c", "\u2028\u2029\ufeff\u0085",
      "é€😀\u{10ffff}", "\ud800", "\udfff", "a\udc00b\udbff", "\udbff\udfff"],
  },
  { label: "every code point U+0000..U+10FFFF", value: allCodePoints() },
  { label: "lists", value: [[], [1, [2, [3]]]], expect: "[[], [1, [2, [3]]]]" },
  { label: "a set", value: new Set([1, 2, 3]), expect: "{1, 2, 3}" },
  { label: "an empty set (serpent writes an empty tuple)", value: new Set(), expect: "()" },
  { label: "a set holding arrays (as tuples)", value: new Set([[1, 2], "a", [], [3]]), expect: "{(1, 2), 'a', (), (3,)}" },
  { label: "an object, keys in order", value: SAMPLE, expect: `{'b': 1, 'a': [True, None], "it's": {'é': 2}}` },
  { label: "an own __proto__ key", value: JSON.parse('{"__proto__": 1}') as unknown, expect: "{'__proto__': 1}" },
  { label: "a Map", value: new Map([["x", 1]]), expect: "{'x': 1}" },
  { label: "a Buffer as serpent's bytes dict", value: Buffer.from([0, 1, 255]), expect: "{'data': 'AAH/', 'encoding': 'base64'}" },
  { label: "a Buffer that serpent.tobytes turns back into bytes", value: Buffer.from([0, 1, 255]), mode: "tobytes", expect: "b'\\x00\\x01\\xff'" },
  { label: "a Uint8Array view", value: new Uint8Array([7, 104, 105, 7]).subarray(1, 3), mode: "tobytes", expect: "b'hi'" },
  { label: "a Date", value: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), expect: "'2024-01-02T03:04:05.006Z'" },
  { label: "a TypeError (Pyro5 raises it as TypeError)", value: new TypeError("bad"), expect: "TypeError('bad')" },
  { label: "a RangeError (as ValueError)", value: new RangeError("far"), expect: "ValueError('far')" },
  { label: "a pyro-ts NamingError (as Pyro5.errors.NamingError)", value: new NamingError("who"), expect: "__import__('Pyro5.errors').errors.NamingError('who')" },
  { label: "a SerializeError", value: new SerializeError("bad data"), expect: "__import__('Pyro5.errors').errors.SerializeError('bad data')" },
  { label: "the call as Pyro5's loadsCall reads it", value: ["obj", "m", [1, "x"], { k: 2 }], mode: "call", expect: "('obj', 'm', [1, 'x'], {'k': 2})" },
  { label: "nesting to Python's limit (200)", value: nested(200), expect: `${"[".repeat(200)}${"]".repeat(200)}` },
  {
    label: "a mix",
    value: { a: [new Set([1]), Buffer.from("x"), { b: [NaN, 2n ** 64n] }], when: new Date(0), none: undefined },
    expect: "{'a': [{1}, {'data': 'eA==', 'encoding': 'base64'}, {'b': [nan, 2**64]}], 'when': '1970-01-01T00:00:00.000Z', 'none': None}",
  },
];

const ALPHABET = ["a", "Z", "0", " ", "'", '"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\x85", "\xa0", "é", "€", "😀", "\u2028", "\ufeff", "\ud800", "\udfff", "#", "{", "]"];

/** Seeded random values of the value model (sets hold distinct ints and strings only: Python would merge 1 and True). */
function randomValue(random: () => number, depth: number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const count = () => Math.floor(random() * 5);
  const text = () => Array.from({ length: Math.floor(random() * 12) }, () => pick(ALPHABET)).join("");
  if (depth < 4 && random() < 0.45) {
    switch (Math.floor(random() * 5)) {
      case 0: return Array.from({ length: count() }, () => randomValue(random, depth + 1));
      case 1: return Object.fromEntries(Array.from({ length: count() }, () => [text(), randomValue(random, depth + 1)]));
      case 2: return new Map(Array.from({ length: count() }, () => [text(), randomValue(random, depth + 1)]));
      case 3: return new Set(Array.from({ length: count() }, (_, i) => (random() < 0.5 ? i * 1000 + Math.floor(random() * 1000) : `${i}:${text()}`)));
      default: return Buffer.from(Array.from({ length: count() * 3 }, () => Math.floor(random() * 256)));
    }
  }
  const bits = Buffer.from(Array.from({ length: 8 }, () => Math.floor(random() * 256)));
  return pick<() => unknown>([
    () => null, () => undefined, () => random() < 0.5,
    () => Math.floor((random() - 0.5) * 2 ** Math.floor(random() * 54)),
    () => bits.readDoubleBE(0), () => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20),
    () => BigInt(Math.floor(random() * 2 ** 50)) ** BigInt(1 + Math.floor(random() * 4)) * (random() < 0.5 ? -1n : 1n),
    text, () => new Date(Math.floor(random() * 4e12)),
  ])();
}

/** What a value is after a trip through Python and back (docs: the value model). */
function afterTrip(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || Math.abs(value) >= 1e21 || Object.is(value, -0)) return value;
    return Number.isSafeInteger(value) ? value : BigInt(value);
  }
  if (typeof value === "bigint") return value >= -(2n ** 53n - 1n) && value <= 2n ** 53n - 1n ? Number(value) : value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(afterTrip);
  if (value instanceof Set) return value.size === 0 ? [] : new Set([...value].map(afterTrip));
  if (value instanceof Map) return afterTrip(Object.fromEntries(value));
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, afterTrip(item)]));
  return value;
}

/** A decoded value described as serpent_load.py's model() describes Python's (numbers by IEEE bits, strings by UTF-16 units). */
function model(value: unknown): unknown {
  const units = (text: string) => Buffer.from(text, "utf16le").swap16().toString("hex");
  if (value === null) return ["None"];
  if (typeof value === "boolean") return ["bool", value];
  if (typeof value === "number") {
    const bits = Buffer.alloc(8);
    bits.writeDoubleBE(value);
    return ["num", bits.toString("hex")];
  }
  if (typeof value === "bigint") return ["big", value.toString()];
  if (typeof value === "string") return ["str", units(value)];
  if (Buffer.isBuffer(value)) return ["bytes", value.toString("hex")];
  if (Array.isArray(value)) return ["list", value.map(model)];
  if (value instanceof Set) return ["set", [...value].map((item) => JSON.stringify(model(item))).sort()];
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => [units(key), model(item)] as const);
  return ["dict", entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))];
}

/** Seeded mutations (byte flips, inserted tokens, cuts, splices) of valid serpent text. */
function mutatedInputs(corpus: readonly Buffer[], count: number): Buffer[] {
  const random = prng(SEED);
  const tokens = ["(", ")", "[", "]", "{", "}", ",", ":", "'", '"', "\\", "\\x", "\\u00", "\\1", "-", "+", "j", "1e", "0x", "b'", "r'",
    "#", "\n", "None", "set()", "()", "1.", ".5", "_", "é", " ", "1j", "True"];
  const inputs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    let input = corpus[Math.floor(random() * corpus.length)]!;
    for (let m = 0, mutations = 1 + Math.floor(random() * 3); m < mutations; m++) {
      const at = Math.floor(random() * (input.length + 1));
      const kind = Math.floor(random() * 4);
      if (kind === 0 && input.length > 0) {
        input = Buffer.from(input);
        input[Math.min(at, input.length - 1)] = 32 + Math.floor(random() * 95);
      } else if (kind === 1) input = Buffer.concat([input.subarray(0, at), Buffer.from(tokens[Math.floor(random() * tokens.length)]!), input.subarray(at)]);
      else if (kind === 2) input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + Math.floor(random() * 6))]);
      else input = input.subarray(0, at);
    }
    inputs.push(input);
  }
  return inputs;
}

describe.skipIf(unavailable !== undefined)(`serpent against Python's serpent 1.41 and Pyro5 5.15${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  describe("Python → TypeScript", () => {
    let dumped: Record<string, { payload: string }>;
    const decodeSample = (name: string): unknown => serpentSerializer.decode(Buffer.from(dumped[name]!.payload, "base64"));

    beforeAll(async () => {
      const run = await runPython("serpent_dump.py", [], { timeoutMs: 60_000 });
      if (run.code !== 0) throw new Error(`serpent_dump.py failed (${run.code}): ${run.stderr.slice(-3000)}`);
      dumped = JSON.parse(run.stdout) as Record<string, { payload: string }>;
    }, 70_000);

    it("decodes the exact bytes Pyro5 sends for a call", () => {
      const payload = Buffer.from(dumped.call!.payload, "base64");
      expect(payload.toString("utf8")).toBe("# serpent utf-8 python3.2\n('obj','m',(1,'x'),{'k':2})");
      expect(serpentSerializer.decode(payload)).toEqual(["obj", "m", [1, "x"], { k: 2 }]);
    });

    it.each(SAMPLES_FROM_PYTHON)("decodes %s", (name, expected) => {
      expect(decodeSample(name)).toEqual(expected);
    });

    it("decodes every code point (a 10 MB string of escapes and raw UTF-8)", () => {
      expect(decodeSample("all_chars") === allCodePoints()).toBe(true);
    });

    it("decodes a 1 MB list of numbers and strings", () => {
      const list = decodeSample("big_list") as unknown[];
      expect(list).toHaveLength(100_000);
      expect(list.slice(0, 3)).toEqual(["item 0 é", 1, "item 2 é"]);
      expect(list[99_999]).toBe(99_999);
    });
  });

  describe("TypeScript → Python", () => {
    let results: LoadResult[];
    beforeAll(async () => {
      results = await loadInPython(TO_PYTHON.map((testCase) => {
        const expectation = testCase.expect === undefined ? { expect_json: testCase.expectJson ?? JSON.stringify(testCase.value) } : { expect: testCase.expect };
        return { payload: b64(testCase.value), mode: testCase.mode ?? "loads", ...expectation };
      }));
    }, 70_000);

    it.each(TO_PYTHON.map((testCase, index) => [testCase.label, index] as const))("Pyro5 loads %s exactly", (_label, index) => {
      const result = results[index]!;
      expect(result.error, result.error).toBeUndefined();
      expect(result.ok, `Python got ${result.got}\nexpected ${result.want}`).toBe(true);
    });
  });

  it("writes floats byte for byte as Python's serpent does", async () => {
    const random = prng(SEED);
    const floats = [0.1, 1 / 3, 0.1 + 0.2, 1e-4, 1e-5, 123.456, 1e21, 1e22, 1.5e300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0, NaN, Infinity, -Infinity];
    const bits = Buffer.alloc(8);
    while (floats.length < 5000) {
      for (let i = 0; i < 8; i++) bits[i] = Math.floor(random() * 256);
      const value = random() < 0.5 ? bits.readDoubleBE(0) : (random() - 0.5) * 10 ** Math.floor(random() * 44 - 22);
      // Integral values below 1e21 go as Python ints (as JSON.stringify writes them); not floats.
      if (!(Number.isInteger(value) && Math.abs(value) < 1e21 && !Object.is(value, -0))) floats.push(value);
    }
    const hex = floats.map((value) => {
      bits.writeDoubleBE(value);
      return bits.toString("hex");
    });
    const [result] = await loadInPython([{ payload: b64(floats), mode: "floats", bits: hex }]);
    expect(result!.error).toBeUndefined();
    expect(result!.ok, `Python wrote ${result!.got?.slice(0, 500)}`).toBe(true);
  }, 30_000);

  it(`round-trips seeded random values through Python (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const values = Array.from({ length: 400 }, () => randomValue(random, 0));
    const results = await loadInPython(values.map((value) => ({ payload: b64(value), mode: "redump" })));
    results.forEach((result, index) => {
      expect(result.error, `value ${index}: ${result.error}`).toBeUndefined();
      expect(serpentSerializer.decode(Buffer.from(result.redumped!, "base64")), `value ${index}`).toEqual(afterTrip(values[index]));
    });
  }, 30_000);

  it(`agrees with Python's literal_eval on mutated payloads (seed ${SEED})`, async () => {
    const corpus = [
      serpentSerializer.encode({ a: [1, 2.5, "x'y\"z\\", null, true], b: new Set([1, [2, 3]]), c: Buffer.from("hi"), d: [NaN, -Infinity, 2n ** 80n] }),
      Buffer.from("# serpent utf-8 python3.2\n('obj','m',(1,'x'),{'k':2})"),
      Buffer.from("[(1.0-2.0j),b'\\x00\\'',r'\\n','''a\nb''',{1e30000:(),-0.0:5,True:None},0x1F,'\\U0001f600\\u2028\\101',{'__class__':'float','value':'nan'}]"),
      Buffer.from("{'data': 'AAH/', 'encoding': 'base64'}"),
      Buffer.from("{7:'a',2.5:'b',False:'f',-3:{1,2,(3,)},'s':[1e+16,1e-05,(),(1,),[]]}"),
      Buffer.from(String.raw`['\a\b\f\v\0\x41\u00e9\U0001F600\q',"d\"q",'''t'''  'c',u'u',R'r\'',rb'\q',B'\x7f','\1010\8']`),
      Buffer.from("[1_000,0o17,0b1,0XfF,.5e-3,5.,1E5J,-(1),+(2.5),(1)+2j,1-(2j),-(-1),- 3,-0,-0.0,(-0.0-0.0j),99999999999999999999]"),
      Buffer.from("{1:'a',1.0:'b',True:'c',0:'d',-0.0:'e',False:'f',9007199254740993:'g',9007199254740992.0:'h',9007199254740992:'i'}"),
      Buffer.from("{'__class__':'float','value':' -Infinity '}"),
    ];
    const inputs = mutatedInputs(corpus, Number(process.env.PYRO_SERPENT_DIFF_COUNT ?? 4000));
    const results = await loadInPython(inputs.map((input) => ({ payload: input.toString("base64"), mode: "model" })));
    const problems: string[] = [];
    let bothAccepted = 0;
    inputs.forEach((input, index) => {
      const python = results[index]!;
      let ours: { model: unknown } | { error: string };
      try {
        ours = { model: model(serpentSerializer.decode(input)) };
      } catch (error) {
        expect(error).toBeInstanceOf(SerializeError);
        ours = { error: (error as Error).message };
      }
      const text = JSON.stringify(input.toString("utf8"));
      if ("model" in ours && python.model !== undefined) {
        bothAccepted++;
        if (JSON.stringify(ours.model) !== JSON.stringify(python.model)) problems.push(`${text}: values differ`);
      } else if ("model" in ours) {
        // We accept more than literal_eval: set elements Python cannot hash, indented lines, deeper nesting.
        if (!/unhashable|unexpected indent|too many nested/.test(python.error ?? "")) problems.push(`${text}: only we accept it (Python: ${python.error})`);
      } else if (python.model !== undefined) {
        // And refuse what the value model cannot hold (dict keys json cannot name), and check the header.
        if (!/dict key of type|bad serpent header/.test(ours.error)) problems.push(`${text}: only Python accepts it (we: ${ours.error})`);
      }
    });
    expect(problems.slice(0, 20)).toEqual([]);
    // Not vacuous: about one input in eight survives its mutations as a literal both decode alike.
    expect(bothAccepted).toBeGreaterThan(inputs.length / 20);
  }, 60_000);
});
