/**
 * The serpent serializer on its own (no Python): the exact text it writes, the whole literal
 * grammar it reads (every Python string escape, numbers, complex, tuples, sets, serpent's stand-ins
 * for bytes and NaN), the value model's dict-key rule, refusals, depth limits, and a seeded fuzz
 * run in which malformed input only ever throws SerializeError. Against the real Python serpent:
 * pyro5-serpent-python.test.ts.
 */
import { describe, expect, it } from "vitest";
import { SerializeError } from "../src/errors.js";
import { serpentSerializer } from "../src/pyro5/wire/serpent.js";
import { prng, prototypeSnapshot } from "./seeded.js";

const HEADER = "# serpent utf-8 python3.2\n";
const encodeText = (value: unknown): string => serpentSerializer.encode(value).toString("utf8");
const body = (value: unknown): string => encodeText(value).slice(HEADER.length);
const decode = (text: string): unknown => serpentSerializer.decode(Buffer.from(text, "utf8"));

function decodeError(text: string | Buffer): SerializeError {
  try {
    serpentSerializer.decode(typeof text === "string" ? Buffer.from(text, "utf8") : text);
  } catch (error) {
    expect(error).toBeInstanceOf(SerializeError);
    return error as SerializeError;
  }
  throw new Error(`decoded without error: ${String(text)}`);
}

describe("serpent serializer identity", () => {
  it("is id 1, named serpent", () => {
    expect(serpentSerializer.id).toBe(1);
    expect(serpentSerializer.name).toBe("serpent");
  });
});

describe("serpent encode", () => {
  it("writes the header Python's serpent writes", () => {
    expect(encodeText(null)).toBe(`${HEADER}None`);
  });

  it.each<[string, unknown, string]>([
    ["null", null, "None"],
    ["undefined", undefined, "None"],
    ["booleans", [true, false], "[True,False]"],
    ["safe integers", [0, -1, 42, Number.MAX_SAFE_INTEGER], "[0,-1,42,9007199254740991]"],
    ["integral numbers below 1e21 as ints (as JSON.stringify)", [2 ** 53, 1e20], "[9007199254740992,100000000000000000000]"],
    ["floats as Python's repr", [1.5, 0.1, 1e-5, 1e-7, 0.0001, 123.456, 1e21, 1.5e300, 5e-324, -0], "[1.5,0.1,1e-05,1e-07,0.0001,123.456,1e+21,1.5e+300,5e-324,-0.0]"],
    ["NaN and infinities as serpent writes them", [NaN, Infinity, -Infinity], "[{'__class__':'float','value':'nan'},1e30000,-1e30000]"],
    ["bigints", [2n ** 70n, -(2n ** 70n), 5n], "[1180591620717411303424,-1180591620717411303424,5]"],
    ["strings with quotes and escapes", ["it's", 'say "hi"', "a\\b", "\n\r\t\x00\x1f\x7f\x80\x9f"], `['it\\'s','say "hi"','a\\\\b','\\n\\r\\t\\x00\\x1f\\x7f\\x80\\x9f']`],
    ["unicode as UTF-8, line separators escaped", ["é€😀", "\u2028\u2029"], "['é€😀','\\u2028\\u2029']"],
    ["lone surrogates as \\u escapes (Python strings can hold them)", ["\ud800", "a\udfffb", "\udbff\udfff"], "['\\ud800','a\\udfffb','\udbff\udfff']"],
    ["arrays as lists", [[], [1, [2]]], "[[],[1,[2]]]"],
    ["the call form", ["obj", "m", [1, "x"], { k: 2 }], "['obj','m',[1,'x'],{'k':2}]"],
    ["sets, arrays inside them as tuples", new Set([1, "a", [2, 3], [4], []]), "{1,'a',(2,3),(4,),()}"],
    ["an empty set as serpent does: ()", new Set(), "()"],
    ["plain objects in key order", { b: 1, a: [true, null], "it's": 2 }, "{'b':1,'a':[True,None],'it\\'s':2}"],
    ["Maps with string keys", new Map<string, unknown>([["x", 1], ["y", new Map()]]), "{'x':1,'y':{}}"],
    ["Buffers as serpent's base64 dict", Buffer.from([0, 1, 255]), "{'data':'AAH/','encoding':'base64'}"],
    ["a Uint8Array view (its own bytes only)", new Uint8Array([9, 0, 1, 255, 9]).subarray(1, 4), "{'data':'AAH/','encoding':'base64'}"],
    ["Dates as ISO strings", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), "'2024-01-02T03:04:05.006Z'"],
  ])("%s", (_name, value, expected) => {
    expect(body(value)).toBe(expected);
  });

  it("writes an own __proto__ key and a null-prototype object", () => {
    const value = JSON.parse('{"__proto__": 1}') as unknown;
    expect(body(value)).toBe("{'__proto__':1}");
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(body(bare)).toBe("{'a':1}");
  });

  it("writes an Error as the exception dict Pyro5 rebuilds", () => {
    const decoded = decode(body(new TypeError("bad"))) as Record<string, unknown>;
    expect(decoded.__class__).toBe("builtins.TypeError");
    expect(decoded.__exception__).toBe(true);
    expect(decoded.args).toEqual(["bad"]);
  });

  it("writes holes of a sparse array as None", () => {
    expect(body([1, , 3])).toBe("[1,None,3]");
  });

  it("turns a throwing getter into a SerializeError", () => {
    const value = { get broken(): never { throw new Error("getter failed"); } };
    expect(() => serpentSerializer.encode(value)).toThrow(SerializeError);
    expect(() => serpentSerializer.encode(value)).toThrow(/getter failed/);
  });

  it("allows shared, non-cyclic references", () => {
    const shared = { a: 1 };
    expect(body([shared, shared])).toBe("[{'a':1},{'a':1}]");
  });

  it.each<[string, () => unknown, RegExp]>([
    ["a function", () => [function namedFn() {}], /function namedFn/],
    ["a symbol", () => ({ s: Symbol("x") }), /symbol/],
    ["a class instance", () => [new (class Widget {})()], /class instance Widget/],
    ["a Float64Array", () => new Float64Array(2), /Float64Array/],
    ["an ArrayBuffer", () => new ArrayBuffer(2), /ArrayBuffer/],
    ["a boxed string", () => [new String("x")], /String/],
    ["a Map with a non-string key", () => new Map([[1, "a"]]), /Map key must be a string/],
    ["a dict in a Set", () => new Set([{ a: 1 }]), /hashable/],
    ["a Buffer in a Set", () => new Set([Buffer.from("x")]), /hashable/],
    ["NaN in a Set (serpent's NaN is a dict)", () => new Set([1, NaN]), /NaN/],
    ["an invalid Date", () => new Date(NaN), /invalid Date/],
    ["an array cycle", () => { const a: unknown[] = []; a.push([a]); return a; }, /cycl/],
    ["an object cycle", () => { const o: Record<string, unknown> = {}; o.self = { o }; return o; }, /cycl/],
    ["a Map cycle", () => { const m = new Map<string, unknown>(); m.set("m", m); return m; }, /cycl/],
  ])("refuses %s with a SerializeError naming it", (_name, make, message) => {
    expect(() => serpentSerializer.encode(make())).toThrow(SerializeError);
    expect(() => serpentSerializer.encode(make())).toThrow(message);
  });

  it("nests as deep as Python's parser reads (200 brackets), and refuses deeper", () => {
    let ok: unknown = [];
    for (let i = 1; i < 200; i++) ok = [ok];
    expect(body(ok)).toBe(`${"[".repeat(200)}${"]".repeat(200)}`);
    expect(() => serpentSerializer.encode([ok])).toThrow(/deeper than 200/);
    let withNaN: unknown = [NaN];
    for (let i = 1; i < 200; i++) withNaN = [withNaN];
    expect(() => serpentSerializer.encode(withNaN)).toThrow(/deeper than 200/); // serpent's NaN dict is the 201st bracket
  });
});

describe("serpent decode", () => {
  it("reads with or without the header; a serpent header must be well-formed", () => {
    expect(decode(`${HEADER}[1]`)).toEqual([1]);
    expect(decode("[1]")).toEqual([1]);
    expect(decode("# any comment\n[1]")).toEqual([1]);
    expect(decode("# serpent utf-8 python2.6\n1")).toBe(1);
    expect(decodeError("# serpent latin-1 python3.2\n1").message).toMatch(/bad serpent header.*offset 0/);
  });

  it.each<[string, string, unknown]>([
    ["None/True/False", "[None,True,False]", [null, true, false]],
    ["ints", "[0,-1,+7,- 3,1_000,0x1F,0o17,0b101,00,-0]", [0, -1, 7, -3, 1000, 31, 15, 5, 0, 0]],
    ["ints beyond 2^53 as bigint", "[9007199254740991,9007199254740992,-9007199254740992,1180591620717411303424,0xffffffffffffffffff]",
      [9007199254740991, 9007199254740992n, -9007199254740992n, 1180591620717411303424n, 0xffffffffffffffffffn]],
    ["floats", "[1.5,.5,5.,1e5,1E-5,1.e2,1_0.5,-0.0,1e+16,5e-324]", [1.5, 0.5, 5, 1e5, 1e-5, 100, 10.5, -0, 1e16, 5e-324]],
    ["serpent's infinities", "[1e30000,-1e30000]", [Infinity, -Infinity]],
    ["serpent's NaN dict", "{'__class__':'float','value':'nan'}", NaN],
    ["complex", "[(1.0-2.0j),2j,-2J,(0.0-1e30000j),1+0j]", [{ real: 1, imag: -2 }, { real: 0, imag: 2 }, { real: -0, imag: -2 }, { real: 0, imag: -Infinity }, { real: 1, imag: 0 }]],
    ["tuples", "[(),(1,),(1,2),(1,2,),((),)]", [[], [1], [1, 2], [1, 2], [[]]]],
    ["parenthesized values", "[(1),((2)),('a')]", [1, 2, "a"]],
    ["lists with a trailing comma", "[1,2,]", [1, 2]],
    ["sets", "{1,'a',(2,3)}", new Set([1, "a", [2, 3]])],
    ["the empty set as literal_eval knows it", "set( )", new Set()],
    ["dicts", "{'a':1,'b':{'c':[]},}", { a: 1, b: { c: [] } }],
    ["whitespace, newlines and comments", "[ 1 , # one\n\t2\r\n,\f3 \\\n]", [1, 2, 3]],
    ["serpent's bytes dict as a Buffer", "{'data': 'AAH/', 'encoding': 'base64'}", Buffer.from([0, 1, 255])],
    ["an empty bytes dict", "{'data':'','encoding':'base64'}", Buffer.alloc(0)],
    ["a bytes-like dict that is not base64 stays a dict", "{'data':'hi!','encoding':'base64'}", { data: "hi!", encoding: "base64" }],
    ["a bytes-like dict with more keys stays a dict", "{'data':'AA==','encoding':'base64','x':1}", { data: "AA==", encoding: "base64", x: 1 }],
    ["a float dict with other text", "[{'__class__':'float','value':'-inf'},{'__class__':'float','value':'2.5'}]", [-Infinity, 2.5]],
    ["bytes literals", "[b'a\\x00\\xff\\'\\n',B\"q\",rb'\\x',b'',b'\\u']", [Buffer.from("a\x00\xff'\n", "latin1"), Buffer.from("q"), Buffer.from("\\x"), Buffer.alloc(0), Buffer.from("\\u")]],
    ["bytes octal escapes above \\377 keep their low 8 bits, as in Python 3.11", "b'\\500\\777'", Buffer.from([0x40, 0xff])],
  ])("%s", (_name, text, expected) => {
    expect(decode(text)).toEqual(expected);
  });

  it("keeps -0.0 and makes -0 (an int) a plain 0", () => {
    expect(Object.is(decode("-0.0"), -0)).toBe(true);
    expect(Object.is(decode("-0"), 0)).toBe(true);
  });

  it.each<[string, string, string]>([
    ["simple escapes", String.raw`'\\\'\"\a\b\f\n\r\t\v'`, "\\'\"\x07\b\f\n\r\t\x0b"],
    ["\\x escapes", String.raw`'\x00\x7f\x80\xff\xAD'`, "\x00\x7f\x80\xff\xad"],
    ["\\u escapes incl. lone surrogates", String.raw`'\u2028\ud800\udfff\uFEFF'`, "\u2028\ud800\udfff\ufeff"],
    ["\\U escapes", String.raw`'\U0001f600\U000e0001\U0010ffff'`, "😀\u{e0001}\u{10ffff}"],
    ["octal escapes", String.raw`'\0\12\101\1011\777'`, "\x00\n\x41\x411\u01ff"],
    ["unknown escapes kept as written", String.raw`'\q\d\8'`, "\\q\\d\\8"],
    ["a line continuation inside a string", "'ab\\\ncd'", "abcd"],
    ["double quotes", `"it's"`, "it's"],
    ["raw strings", String.raw`[r'\n\'', R"\\"]`, "skip"],
    ["triple quotes with newlines and lone quotes", "'''a\n'b''c'''", "a\n'b''c"],
    ["implicit concatenation", `'a' "b" u'c'`, "abc"],
    ["raw UTF-8", "'é€😀\u2028'", "é€😀\u2028"],
  ])("strings: %s", (_name, text, expected) => {
    if (expected === "skip") expect(decode(text)).toEqual(["\\n\\'", "\\\\"]);
    else expect(decode(text)).toBe(expected);
  });

  it.each<[string, string, Record<string, unknown>]>([
    ["int keys", "{7:'a',-3:'b',1180591620717411303424:'c'}", { 7: "a", "-3": "b", "1180591620717411303424": "c" }],
    ["float keys as Python's repr", "{2.5:'a',3.0:'b',1e+16:'c',1e-05:'d',(1.5):'e'}", { "2.5": "a", "3.0": "b", "1e+16": "c", "1e-05": "d", "1.5": "e" }],
    ["infinite keys as json.dumps names them", "{1e30000:'a',-1e30000:'b'}", { Infinity: "a", "-Infinity": "b" }],
    ["bool and None keys", "{True:1,False:2,None:3}", { true: 1, false: 2, null: 3 }],
  ])("dict keys: %s", (_name, text, expected) => {
    expect(decode(text)).toEqual(expected);
  });

  it.each(["{(1,2):3}", "{1j:3}", "{(1+2j):3}", "{b'x':1}"])("refuses a key json cannot name: %s", (text) => {
    expect(decodeError(text).message).toMatch(/dict key of type (tuple|complex|bytes) cannot be a property name at byte offset 1/);
  });

  it("makes __proto__ an own key and pollutes no prototype", () => {
    const before = prototypeSnapshot();
    const value = decode("{'__proto__':{'polluted':1},'constructor':{'prototype':{'x':1}}}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__", "constructor"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(prototypeSnapshot()).toEqual(before);
  });

  it("decodes nesting to 1000 levels and refuses deeper without exhausting the stack", () => {
    const nested = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    let value = decode(nested(1000));
    for (let i = 0; i < 999; i++) value = (value as unknown[])[0];
    expect(value).toEqual([]);
    expect(decodeError(nested(1001)).message).toMatch(/nesting deeper than 1000 levels at byte offset 1000/);
    for (const open of ["(", "[", "{", "{1:", "{1,"]) {
      expect(decodeError(open.repeat(200_000)).message).toMatch(/nesting deeper/);
    }
  });

  it("refuses payloads that are not UTF-8", () => {
    expect(decodeError(Buffer.from([0x27, 0xff, 0x27])).message).toMatch(/not valid UTF-8/);
    expect(decodeError(Buffer.from([0x27, 0xed, 0xa0, 0x80, 0x27])).message).toMatch(/not valid UTF-8/);
  });

  it.each<[string, RegExp]>([
    ["", /unexpected end of data at byte offset 0/],
    ["   ", /unexpected end of data at byte offset 3/],
    ["[1,", /unexpected end of data at byte offset 3/],
    ["[1 2]", /unexpected character '2' where ',' or '\]' was expected at byte offset 3/],
    ["(1 2)", /where ',' or '\)' was expected at byte offset 3/],
    ["{1:2 3}", /where ',' or '}' was expected at byte offset 5/],
    ["{1:2,3}", /where ':' was expected at byte offset 6/],
    ["{1 2}", /where ',' or '}' was expected/],
    ["[,]", /unexpected character ','/],
    ["1 2", /unexpected data after the value at byte offset 2/],
    ["'abc", /unterminated string at byte offset 0/],
    ["'a\nb'", /newline in a single-quoted string at byte offset 2/],
    ["'\\x4'", /truncated \\x escape at byte offset 1/],
    ["'\\u12'", /truncated \\u escape/],
    ["'\\U00110000'", /beyond U\+10FFFF/],
    ["'\\N{BULLET}'", /\\N\{name\} escapes are not supported/],
    ["'a\u0000'", /NUL character/],
    ["b'é'", /non-ASCII character in a bytes literal/],
    ["'a' b'b'", /cannot mix bytes and str literals at byte offset 4/],
    ["f'x'", /string prefix "f" is not a literal/],
    ["0777", /leading zeros/],
    ["1e", /malformed number/],
    ["1.2.3", /malformed number/],
    ["1_", /malformed number/],
    ["12abc", /malformed number/],
    ["-'a'", /where a number was expected at byte offset 1/],
    ["--1", /where a number was expected/],
    ["1+2", /only an imaginary number may follow/],
    ["1j+2j", /unexpected data after the value/],
    ["nan", /unexpected name "nan"/],
    ["set(1)", /unexpected name "set"/],
    ["x", /unexpected name "x" at byte offset 0/],
    ["\ufeff1", /unexpected character U\+FEFF at byte offset 0/],
    ["é", /unexpected character U\+00E9 at byte offset 0/],
    ["[é]", /at byte offset 1/],
    ["'é' x", /unexpected data after the value at byte offset 5/],
  ])("refuses %j", (text, message) => {
    expect(decodeError(text).message).toMatch(message);
  });

  it("refuses decimal ints longer than Python's 4300-digit limit (their parsing is quadratic)", () => {
    expect(decode("9".repeat(4300))).toBe(10n ** 4300n - 1n);
    expect(decodeError(`[${"9".repeat(4301)}]`).message).toMatch(/integer of more than 4300 digits at byte offset 1/);
  });
});

describe("serpent round trip (TypeScript only)", () => {
  it("decodes what it encodes, to the value model", () => {
    const value = {
      list: [1, -2.5, "x", null, true, [[]]],
      big: [2n ** 64n, -(2n ** 64n), 2 ** 60],
      special: [NaN, Infinity, -Infinity, -0],
      text: "quote ' dq \" bs \\ nl \n nul \x00 \ud800 😀 \u2028",
      set: new Set([1, "a", [1, 2]]),
      empty: new Set(),
      map: new Map([["k", "v"]]),
      bytes: Buffer.from("hello"),
      when: new Date(0),
      none: undefined,
    };
    expect(serpentSerializer.decode(serpentSerializer.encode(value))).toEqual({
      list: [1, -2.5, "x", null, true, [[]]],
      big: [2n ** 64n, -(2n ** 64n), 2n ** 60n],
      special: [NaN, Infinity, -Infinity, -0],
      text: "quote ' dq \" bs \\ nl \n nul \x00 \ud800 😀 \u2028",
      set: new Set([1, "a", [1, 2]]),
      empty: [],
      map: { k: "v" },
      bytes: Buffer.from("hello"),
      when: "1970-01-01T00:00:00.000Z",
      none: null,
    });
  });
});

const FUZZ_SEED = Number(process.env.PYRO_SERPENT_FUZZ_SEED ?? 20_240_915);
const FUZZ_COUNT = Number(process.env.PYRO_SERPENT_FUZZ_COUNT ?? 20_000);
const TOKENS = ["(", ")", "[", "]", "{", "}", ",", ":", "'", '"', "'''", "\\", "\\x", "\\u12", "\\U0011", "\\N", "1e", "-", "+",
  "j", "0x", "b'", "r'", "rb'", "#", "\n", "\r", "None", "set(", "é", "\u0000", "1e30000", ".", "_", "9".repeat(30), "\ud800"];

describe(`serpent decode fuzz (seed ${FUZZ_SEED}, ${FUZZ_COUNT} inputs)`, () => {
  it("throws only SerializeError, never hangs", () => {
    const random = prng(FUZZ_SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const corpus = [
      encodeText({ a: [1, 2.5, "x'y\"z\\", null, true], b: new Set([1, [2, 3]]), c: Buffer.from("hi"), d: [NaN, -Infinity, 2n ** 80n] }),
      "# serpent utf-8 python3.2\n('obj','m',(1,'x'),{'k':2})",
      "[(1.0-2.0j),b'\\x00\\'',r'\\n','''a\nb''',{1e30000:(),-0.0:set()},0x1F,'\\U0001f600\\u2028\\101']",
    ];
    let slowest = 0;
    for (let i = 0; i < FUZZ_COUNT; i++) {
      let input = Buffer.from(pick(corpus), "utf8");
      for (let m = 0, mutations = 1 + Math.floor(random() * 4); m < mutations; m++) {
        const at = Math.floor(random() * (input.length + 1));
        const kind = Math.floor(random() * 5);
        if (kind === 0 && input.length > 0) input[Math.min(at, input.length - 1)] = Math.floor(random() * 256);
        else if (kind === 1) input = Buffer.concat([input.subarray(0, at), Buffer.from(pick(TOKENS)), input.subarray(at)]);
        else if (kind === 2) input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + Math.floor(random() * 8))]);
        else if (kind === 3) input = input.subarray(0, at);
        else input = Buffer.concat([input.subarray(0, at), input.subarray(Math.floor(random() * input.length))]);
      }
      const started = performance.now();
      try {
        serpentSerializer.decode(input);
      } catch (error) {
        if (!(error instanceof SerializeError)) throw new Error(`seed ${FUZZ_SEED} input ${i} ${JSON.stringify(input.toString("latin1"))}: ${String(error)}`);
      }
      slowest = Math.max(slowest, performance.now() - started);
    }
    expect(slowest).toBeLessThan(500);
  });
});
