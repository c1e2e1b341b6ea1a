/** The value codec: encodeValue and decodeValue, through the wire (codec-helpers.ts). */
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import { registerClass, SerializeError } from "../src/index.js";
import { Point, viaWire } from "./codec-helpers.js";

class Reading {
  constructor(public value: number) {}
}
registerClass(Reading, "lab.Reading");

describe("encodeValue and decodeValue", () => {
  it.each<[string, unknown]>([
    ["a string", "hello ✓"],
    ["an empty string", ""],
    ["an integer", 42],
    ["a float", -1.25e-300],
    ["true", true],
    ["false", false],
    ["null", null],
    ["nested plain JSON", { a: [1, "two", { three: null, four: [true, false] }], b: {}, c: [] }],
  ])("round trips %s as plain JSON, without annotations", (_name, value) => {
    const payload = encodeValue(value);
    expect(payload.value.meta).toBeUndefined();
    expect(payload.attachments).toEqual([]);
    expect(viaWire(value)).toStrictEqual(value);
  });

  it.each<[string, unknown]>([
    ["a Date", new Date("2024-05-06T07:08:09.010Z")],
    ["a Map", new Map<unknown, unknown>([["a", 1], [2, { b: new Date(1) }], [{ key: "object" }, [1]]])],
    ["a Set", new Set<unknown>([1, "two", new Date(2), 3n])],
    ["a BigInt", 2n ** 100n],
    ["a negative BigInt", -(2n ** 70n)],
    ["undefined", undefined],
    ["undefined in an array", [1, undefined, 3]],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["-0", -0],
    ["special numbers nested", { list: [Number.NaN, -0, Number.POSITIVE_INFINITY], n: Number.NEGATIVE_INFINITY }],
    ["a RegExp", /^la(s|z)er\d+$/giu],
    ["a Map of Sets of Dates", new Map([["days", new Set([new Date(0), new Date(86_400_000)])]])],
  ])("round trips %s", (_name, value) => {
    expect(encodeValue(value).value.meta).toBeDefined();
    expect(viaWire(value)).toStrictEqual(value);
  });

  it("keeps an object key whose value is undefined", () => {
    const decoded = viaWire({ a: undefined, b: 1 }) as Record<string, unknown>;
    expect(Object.keys(decoded).sort()).toEqual(["a", "b"]);
    expect(decoded.a).toBeUndefined();
  });

  it("round trips a URL", () => {
    const decoded = viaWire({ home: new URL("https://example.org:8443/a/b?q=1#frag") }) as { home: unknown };
    expect(decoded.home).toBeInstanceOf(URL);
    expect((decoded.home as URL).href).toBe("https://example.org:8443/a/b?q=1#frag");
  });

  it("keeps the prototype of a registered class, its fields and their types", () => {
    const decoded = viaWire([new Point(3, 4, new Date(5))]) as Point[];
    expect(decoded[0]).toBeInstanceOf(Point);
    expect(decoded[0]!.norm()).toBe(5);
    expect(decoded[0]!.seen).toStrictEqual(new Date(5));
  });

  it("keeps a class registered under its own name", () => {
    const payload = encodeValue(new Reading(7));
    expect(JSON.stringify(payload.value.meta)).toContain("lab.Reading");
    expect(viaWire(new Reading(7))).toStrictEqual(new Reading(7));
  });

  it("refuses to register an anonymous class", () => {
    expect(() => registerClass((() => class {})())).toThrow(new TypeError("registerClass needs a name for an anonymous class"));
  });

  it("sends an unregistered class as a plain object of its own fields (its prototype is lost)", () => {
    class Unregistered {
      constructor(
        public a: number,
        public b: string,
      ) {}
      method(): number {
        return this.a;
      }
    }
    const decoded = viaWire(new Unregistered(1, "x"));
    expect(decoded).not.toBeInstanceOf(Unregistered);
    expect(decoded).toStrictEqual({ a: 1, b: "x" });
  });

  // Fixed bug, kept as a regression test: src/codec/values.ts encodeValue: superjson only walks plain objects, arrays, Maps, Sets,
  // Errors and registered classes, so the fields of an unregistered class instance reach
  // JSON.stringify untouched: a Date becomes a string, a Buffer {type:"Buffer",data:[...]} inline.
  it("keeps the types of the fields of an unregistered class instance", () => {
    class Unregistered {
      when = new Date(0);
      frame = Buffer.from([1, 2, 3]);
    }
    expect(viaWire(new Unregistered())).toStrictEqual({ when: new Date(0), frame: Buffer.from([1, 2, 3]) });
  });

  it("round trips a cyclic object", () => {
    const node: { name: string; when: Date; self?: unknown; list: unknown[] } = { name: "n", when: new Date(0), list: [] };
    node.self = node;
    node.list.push(node);
    const decoded = viaWire(node) as typeof node;
    expect(decoded.self).toBe(decoded);
    expect(decoded.list[0]).toBe(decoded);
    expect(decoded.when).toStrictEqual(new Date(0));
  });

  it("round trips a cyclic object made of plain JSON only", () => {
    const a: { b?: unknown } = {};
    const b = { a };
    a.b = b;
    const decoded = viaWire(a) as { b: { a: unknown } };
    expect(decoded.b.a).toBe(decoded);
  });

  it("drops functions inside objects and arrays, as JSON does (documented behaviour)", () => {
    expect(viaWire({ n: 1, f: () => 1, d: new Date(0) })).toStrictEqual({ n: 1, d: new Date(0) });
    expect(viaWire([1, () => 1])).toStrictEqual([1, null]);
  });

  // Fixed bug, kept as a regression test: src/codec/values.ts encodeValue accepts a top-level function or symbol; frames.ts
  // valueJson then writes JSON.stringify(fn) === undefined into the body as the text
  // "undefined", so the receiver fails with "ProtocolError: body is not valid JSON".
  it("refuses a function or a symbol with SerializeError", () => {
    expect(() => encodeValue(() => 1)).toThrow(SerializeError);
    expect(() => encodeValue(Symbol("s"))).toThrow(SerializeError);
  });

  it("refuses an object with a constructor or __proto__ key and a non-JSON value (superjson's guard)", () => {
    // Plain JSON takes the fast path and passes.
    expect(viaWire({ constructor: "c", prototype: 1 })).toStrictEqual({ constructor: "c", prototype: 1 });
    expect(() => encodeValue({ constructor: "c", when: new Date(0) })).toThrow(SerializeError);
    expect(() => encodeValue({ constructor: "c", when: new Date(0) })).toThrow(/cannot serialize value: .*prototype pollution/);
    expect(() => encodeValue(JSON.parse('{"__proto__": {"polluted": true}}'))).toThrow(SerializeError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("wraps a failure to decode in SerializeError", () => {
    expect(() => decodeValue({ value: { json: 1, meta: { values: ["no-such-type"], v: 1 } }, attachments: [] })).toThrow(
      /cannot decode value: Unknown transformation: no-such-type/,
    );
    expect(() => decodeValue({ value: { json: 1, meta: { values: [["class", "Nope"]], v: 1 } }, attachments: [] })).toThrow(SerializeError);
  });
});
