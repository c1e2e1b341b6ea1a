/**
 * The pure Pyro5 wire codec (src/pyro5/wire), no I/O; the same codec against the real
 * Python Pyro5 is test/pyro5-wire-python.test.ts.
 * Here: the Python-compatible json serializer, and the serializer lookup.
 */
import { describe, expect, it } from "vitest";
import { SerializeError } from "../src/errors.js";
import { MAX_JSON_DEPTH, parsePythonJson } from "../src/pyro5/wire/json-parse.js";
import { jsonSerializer, serializerById, serializerByName } from "../src/pyro5/wire/serializer.js";
import { lossless } from "./pyro5-wire-helpers.js";

describe("the json serializer: decoding Python's json", () => {
  it("keeps NaN, infinities and integers beyond 2^53 exactly", () => {
    const text = '[NaN, Infinity, -Infinity, 9007199254740991, 9007199254740992, -9007199254740993, 1180591620717411303424, 1.0, 1e+16, 0.30000000000000004, -0.0, 1e400]';
    const value = parsePythonJson(text) as unknown[];
    expect(value[0]).toBeNaN();
    expect(value.slice(1)).toEqual([Infinity, -Infinity, 9007199254740991, 9007199254740992n, -9007199254740993n, 1180591620717411303424n, 1, 1e16, 0.30000000000000004, -0, Infinity]);
    expect(Object.is(value[10], -0)).toBe(true);
    expect(typeof value[3]).toBe("number");
    expect(parsePythonJson("12345678901234567890")).toBe(12345678901234567890n);
    expect(parsePythonJson("1234567890123456")).toBe(1234567890123456);
    expect(parsePythonJson('{"a": NaN}')).toEqual({ a: NaN });
  });

  it("decodes the same value on the fast path (JSON.parse) and the lossless one", () => {
    const texts = [
      '{"__class__": "builtins.ValueError", "__exception__": true, "args": ["boom"], "attributes": {"_pyroTraceback": ["Traceback\\n"]}}',
      '{"a": [1, 2.5, -3e-7, true, false, null, {}], "b": {"c": {"d": []}}, "é ☃": "\\u00e9\\ud834\\udd1e\\n\\t\\"\\\\\\/\\b\\f\\r"}',
      ' \n\t[ "x" , { "k" : -0 } ]\r\n', '"\\ud800 lone"', "0", "-1", '""', '{"1": "a", "b": 2, "0": 3}',
    ];
    for (const text of texts) {
      expect(lossless(text)).toEqual(JSON.parse(text));
      expect(parsePythonJson(text)).toEqual(JSON.parse(text));
    }
  });

  it("makes __proto__ an own key, never the prototype", () => {
    for (const value of [parsePythonJson('{"__proto__": {"polluted": 1}}'), lossless('{"__proto__": {"polluted": 1}}')]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value as object)).toEqual(["__proto__"]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  const malformed = [
    "", " ", "[1,]", "{'a': 1}", '{"a" 1}', '{"a": 1,}', '{1: 2}', '"unterminated', '"tab\there"', '"bad \\x escape"', '"\\u12G4"',
    "01", "-", "1.", ".5", "+1", "1e", "-NaN", "nan", "infinity", "NaNa", "[1 2]", "[1] [2]", "\ufeff1", "tru", "nul", "[", "{", '{"a":', "]",
  ];
  it.each(malformed)("refuses %j with a SerializeError on both paths", (text) => {
    expect(() => parsePythonJson(text)).toThrow(SerializeError);
    expect(() => lossless(text)).toThrow(SerializeError);
    expect(() => jsonSerializer.decode(Buffer.from(text))).toThrow(SerializeError);
  });

  it("refuses invalid UTF-8 and nesting deeper than Python could write", () => {
    expect(() => jsonSerializer.decode(Buffer.from([0x22, 0xc3, 0x28, 0x22]))).toThrow(/not valid UTF-8/);
    const deep = "[".repeat(MAX_JSON_DEPTH + 1) + "NaN" + "]".repeat(MAX_JSON_DEPTH + 1);
    expect(() => parsePythonJson(deep)).toThrow(/nested deeper than 1000/);
    const ok = "[".repeat(MAX_JSON_DEPTH) + "NaN" + "]".repeat(MAX_JSON_DEPTH);
    expect(() => parsePythonJson(ok)).not.toThrow();
  });
});

describe("the json serializer: encoding for Python", () => {
  const encode = (value: unknown): string => jsonSerializer.encode(value).toString("utf8");

  it("writes what Python's json reads: tokens, bare big integers, ISO dates, sets, maps, None", () => {
    expect(encode([NaN, Infinity, -Infinity, 2n ** 64n, -(2n ** 70n), 1.5, 2, -0, 1e21, 5e-324])).toBe(
      "[NaN,Infinity,-Infinity,18446744073709551616,-1180591620717411303424,1.5,2,-0.0,1e+21,5e-324]",
    );
    expect(encode({ when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)) })).toBe('{"when":"2024-01-02T03:04:05.006Z"}');
    expect(encode(new Set([1, "a"]))).toBe('[1,"a"]');
    expect(encode(new Map<string, unknown>([["b", 1], ["a", new Map([["x", undefined]])]]))).toBe('{"b":1,"a":{"x":null}}');
    expect(encode({ a: undefined, b: [undefined, null] })).toBe('{"a":null,"b":[null,null]}');
    expect(encode(undefined)).toBe("null");
    // eslint-disable-next-line no-sparse-arrays
    expect(encode([1, , 3])).toBe("[1,null,3]");
    expect(encode(Object.assign(Object.create(null) as object, { z: 1 }))).toBe('{"z":1}');
    expect(encode("é ☃ 𝄞 \u0000 \ud800 \"q\"")).toBe(JSON.stringify("é ☃ 𝄞 \u0000 \ud800 \"q\""));
    expect(jsonSerializer.encode("é")).toEqual(Buffer.from([0x22, 0xc3, 0xa9, 0x22]));
  });

  it("encodes plain data exactly as JSON.stringify does, deterministically", () => {
    const plain = { b: [1, 2.5, "x", true, null, { c: [] }], a: "é", 10: 1, 2: 2, nested: { deep: { deeper: [[["y"]]] } } };
    expect(encode(plain)).toBe(JSON.stringify(plain));
    expect(encode(plain)).toBe(encode(structuredClone(plain)));
  });

  it("encodes an Error as the exception dict a Python peer raises", () => {
    const dict = JSON.parse(encode({ failed: new RangeError("too far") })) as { failed: Record<string, unknown> };
    expect(dict.failed).toMatchObject({ __class__: "builtins.ValueError", __exception__: true, args: ["too far"] });
  });

  const refused: [string, unknown, RegExp][] = [
    ["a Buffer", { data: Buffer.from("x") }, /bytes cannot be sent with the json serializer.*serpent.*\(at value\.data\)/],
    ["a Uint8Array", [new Uint8Array(2)], /serpent/],
    ["an ArrayBuffer", new ArrayBuffer(1), /serpent/],
    ["a Map with a number key", new Map([[1, "a"]]), /Map key of type number/],
    ["a function", { f: () => 1 }, /a function cannot be sent.*\(at value\.f\)/],
    ["a symbol", [Symbol("s")], /a symbol cannot be sent.*\[0\]/],
    ["a class instance", { at: new (class Point {})() }, /instance of Point/],
    ["a typed array of floats", new Float64Array(2), /instance of Float64Array/],
    ["a RegExp", /x/, /instance of RegExp/],
    ["an invalid Date", new Date(NaN), /invalid Date/],
  ];
  it.each(refused)("refuses %s with a SerializeError saying what", (_, value, pattern) => {
    expect(() => jsonSerializer.encode(value)).toThrow(SerializeError);
    expect(() => jsonSerializer.encode(value)).toThrow(pattern);
  });

  it("refuses cycles and too deep nesting; shared (acyclic) references are fine", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    expect(() => jsonSerializer.encode(cyclic)).toThrow(/cycle.*\(at value\.self\.back\.self/);
    const list: unknown[] = [];
    list.push(list);
    expect(() => jsonSerializer.encode(list)).toThrow(SerializeError);
    const shared = { x: 1 };
    expect(encode([shared, shared])).toBe('[{"x":1},{"x":1}]');
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH + 5; i++) deep = [deep];
    expect(() => jsonSerializer.encode(deep)).toThrow(/nested deeper/);
    const getter = { get boom(): never { throw new Error("getter failed"); } };
    expect(() => jsonSerializer.encode(getter)).toThrow(SerializeError);
  });

  it("round-trips values through encode and decode", () => {
    const values: unknown[] = [
      { int: 3, big: 2n ** 100n, neg: -(2n ** 60n), nan: NaN, inf: -Infinity, f: 0.1, s: "☃", l: [[], {}, [null]] },
      [true, false, null, "", 0, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2],
    ];
    for (const value of values) {
      const back = jsonSerializer.decode(jsonSerializer.encode(value));
      expect(back).toEqual(value === values[1] ? [true, false, null, "", 0, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2n ** 53n + 2n] : value);
    }
  });
});

describe("serializer lookup", () => {
  it("knows json (3) and serpent (1), and nothing else", () => {
    expect(serializerById(3)).toBe(jsonSerializer);
    expect(serializerById(1)?.name).toBe("serpent");
    expect(serializerById(1)?.id).toBe(1);
    for (const id of [0, 2, 4, 42]) expect(serializerById(id)).toBeUndefined();
    expect(serializerByName("json")).toBe(jsonSerializer);
    expect(serializerByName("serpent")).toBe(serializerById(1));
    expect(() => serializerByName("marshal")).toThrow(SerializeError);
    expect(() => serializerByName("msgpack")).toThrow(/speaks "serpent" and "json"/);
  });
});
