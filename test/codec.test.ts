import { describe, expect, it } from "vitest";
import { fromEnvelope, toEnvelope, withoutProps, type ErrorEnvelope } from "../src/codec/error-envelope.js";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import {
  CommunicationError,
  ConnectionClosedError,
  DaemonError,
  expose,
  MessageTooLargeError,
  NamingError,
  ProtocolError,
  PyroError,
  registerClass,
  registerError,
  RemoteError,
  SecurityError,
  SerializeError,
  TimeoutError,
  UnknownMemberError,
} from "../src/index.js";
import { decodeMessage, encodeMessage } from "../src/protocol/frames.js";
import type { Payload } from "../src/protocol/message.js";
import { resources } from "./helpers.js";

/** Encodes a value as a result message, decodes the frames as a socket would deliver them. */
function viaWire(value: unknown): unknown {
  const frames = encodeMessage({ kind: "result", id: 1, value: encodeValue(value) }).map((f) =>
    typeof f === "string" ? Buffer.from(f) : Buffer.from(f.buffer, f.byteOffset, f.byteLength),
  );
  const message = decodeMessage(frames);
  if (message.kind !== "result") throw new Error(`expected a result, got ${message.kind}`);
  return decodeValue(message.value);
}

/** The bytes a binary value views. */
function bytesOf(value: ArrayBufferView | ArrayBuffer): Buffer {
  return value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Expects the same binary type holding the same bytes. */
function expectSameBinary(actual: unknown, expected: ArrayBufferView | ArrayBuffer): void {
  expect((actual as object).constructor).toBe(expected.constructor);
  expect(bytesOf(actual as ArrayBufferView | ArrayBuffer).equals(bytesOf(expected))).toBe(true);
}

/** Every typed array type, filled with values that show the element type. */
const typedArrays = (): ArrayBufferView[] => [
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

const binaries = (): (ArrayBufferView | ArrayBuffer)[] => [
  Buffer.from("binary \x00\xff payload", "latin1"),
  ...typedArrays(),
  Uint8Array.of(1, 2, 3, 4, 5).buffer,
  new DataView(Uint8Array.of(9, 8, 7, 6).buffer),
];

const nameOf = (v: object): string => v.constructor.name;

class Point {
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

describe("error envelopes", () => {
  class InstrumentError extends Error {
    override name = "InstrumentError";
    constructor(
      message: string,
      readonly code: number,
      readonly details?: unknown,
    ) {
      super(message);
    }
  }
  registerError(InstrumentError);

  /** Through an envelope and the value codec, as an error reply travels. */
  const travel = (thrown: unknown): Error => fromEnvelope(viaWire(toEnvelope(thrown)));

  it("describes a plain Error by name, message and stack", () => {
    const error = new Error("broken");
    const envelope = toEnvelope(error);
    expect(envelope).toEqual({ name: "Error", message: "broken", stack: error.stack });
  });

  it("rebuilds an unregistered error as a RemoteError with name, message and remote stack", () => {
    const original = new RangeError("out of range");
    const error = travel(original) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.name).toBe("RangeError");
    expect(error.message).toBe("out of range");
    expect(error.remoteStack).toBe(original.stack);
    expect(error.cause).toBeUndefined();
  });

  it("keeps a cause chain", () => {
    const root = new Error("root", { cause: "a string cause" });
    const error = travel(new TypeError("outer", { cause: new RangeError("middle", { cause: root }) }));
    expect(error).toMatchObject({ name: "TypeError", message: "outer" });
    const middle = error.cause as RemoteError;
    expect(middle).toBeInstanceOf(RemoteError);
    expect(middle).toMatchObject({ name: "RangeError", message: "middle" });
    expect(middle.cause).toMatchObject({ name: "Error", message: "root" });
    expect((middle.cause as Error).cause).toMatchObject({ name: "Error", message: "a string cause" });
  });

  it("stops a cyclic or very long cause chain", () => {
    const cyclic = new Error("loop");
    cyclic.cause = cyclic;
    let depth = 0;
    for (let e: ErrorEnvelope | undefined = toEnvelope(cyclic); e; e = e.cause) depth++;
    expect(depth).toBe(9);
    expect(travel(cyclic).message).toBe("loop");
  });

  it.each<[string, unknown, string]>([
    ["a string", "just a string", "just a string"],
    ["a number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["an object", { code: 1 }, "[object Object]"],
    ["a symbol", Symbol("sym"), "Symbol(sym)"],
    ["an object whose toString throws", { toString: () => { throw new Error("no"); } }, "[object Object]"],
  ])("turns a thrown %s into an Error envelope", (_name, thrown, message) => {
    expect(toEnvelope(thrown)).toEqual({ name: "Error", message });
    const error = travel(thrown);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: "Error", message });
  });

  it("rebuilds a registered class with its own properties", () => {
    const original = new InstrumentError("overheated", 42, { celsius: 95, since: new Date(0) });
    const error = travel(original) as InstrumentError & { remoteStack?: string };
    expect(error).toBeInstanceOf(InstrumentError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("InstrumentError");
    expect(error.message).toBe("overheated");
    expect(error.code).toBe(42);
    expect(error.details).toStrictEqual({ celsius: 95, since: new Date(0) });
    expect(error.stack).toBe(original.stack);
    expect(error.remoteStack).toBe(original.stack);
  });

  it("keeps serializable own properties and drops functions and symbols", () => {
    const error = Object.assign(new Error("with props"), { code: "E_LASER", errno: -5, callback: () => 1, tag: Symbol("t") });
    expect(toEnvelope(error).props).toEqual({ code: "E_LASER", errno: -5 });
    expect(withoutProps({ ...toEnvelope(error), cause: toEnvelope(error) })).toEqual({
      name: "Error",
      message: "with props",
      stack: error.stack,
      cause: { name: "Error", message: "with props", stack: error.stack },
    });
  });

  it.each<[string, Error, new (...args: never[]) => Error]>([
    ["TimeoutError", new TimeoutError("no reply"), TimeoutError],
    ["ConnectionClosedError", new ConnectionClosedError("gone"), ConnectionClosedError],
    ["ProtocolError", new ProtocolError("bad frame"), ProtocolError],
    ["MessageTooLargeError", new MessageTooLargeError("too big"), MessageTooLargeError],
    ["SerializeError", new SerializeError("cannot"), SerializeError],
    ["CommunicationError", new CommunicationError("comm"), CommunicationError],
    ["NamingError", new NamingError("no name"), NamingError],
    ["DaemonError", new DaemonError("refused"), DaemonError],
    ["UnknownMemberError", new UnknownMemberError("no member"), UnknownMemberError],
    ["SecurityError", new SecurityError("denied"), SecurityError],
    ["PyroError", new PyroError("base"), PyroError],
  ])("rebuilds pyro-ts's own %s as that class", (name, original, Class) => {
    const error = travel(original);
    expect(error).toBeInstanceOf(Class);
    expect(error).toBeInstanceOf(PyroError);
    expect(error.name).toBe(name);
    expect(error.message).toBe(original.message);
  });

  it("keeps a TimeoutError a CommunicationError, so retry logic still sees it", () => {
    expect(travel(new TimeoutError("late"))).toBeInstanceOf(CommunicationError);
  });

  it("rebuilds a RemoteError received from further away as a RemoteError with its name", () => {
    const error = travel(new RemoteError("ValueError", "from python", "Traceback..."));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: "ValueError", message: "from python" });
  });

  it.each<[string, unknown]>([
    ["a number", 42],
    ["null", null],
    ["a string", "error"],
    ["an empty object", {}],
    ["a name that is not a string", { name: 1, message: "m" }],
    ["a missing message", { name: "Error" }],
    ["a stack that is not a string", { name: "Error", message: "m", stack: 5 }],
  ])("turns a malformed envelope (%s) into a ProtocolError", (_name, envelope) => {
    const error = fromEnvelope(envelope);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toBe("error reply is not a valid error envelope");
  });

  it("turns a malformed cause into a ProtocolError cause", () => {
    const error = fromEnvelope({ name: "Error", message: "outer", cause: 7 });
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.cause).toBeInstanceOf(ProtocolError);
  });

  it("ignores __proto__ and reserved names among the properties of a registered error", () => {
    const envelope: unknown = JSON.parse(
      '{"name":"InstrumentError","type":"InstrumentError","message":"m","props":{"__proto__":{"polluted":true},"message":"x","name":"y","code":1}}',
    );
    const error = fromEnvelope(envelope) as InstrumentError;
    expect(Object.getPrototypeOf(error)).toBe(InstrumentError.prototype);
    expect(error).toMatchObject({ name: "InstrumentError", message: "m", code: 1 });
    expect((error as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // The envelope names the registered class (`type`) apart from the error's `name`.
  it("rebuilds a registered class that does not set its own name", () => {
    class CalibrationError extends Error {}
    registerError(CalibrationError);
    expect(travel(new CalibrationError("drift"))).toBeInstanceOf(CalibrationError);
  });

  it("rebuilds a class registered under a name of its own", () => {
    class StageError extends Error {
      override name = "StageError";
    }
    registerError(StageError, "lab.StageError");
    expect(travel(new StageError("stuck"))).toBeInstanceOf(StageError);
  });
});

describe("values over the network", () => {
  const use = resources();

  @expose
  class Echo {
    echo<T>(value: T): T {
      return value;
    }
    echoAll(...values: unknown[]): unknown[] {
      return values;
    }
    /** What the remote object received: typeof, or the constructor's name for objects. */
    typeName(value: unknown): string {
      return typeof value === "object" && value !== null ? value.constructor.name : typeof value;
    }
  }

  async function echoProxy() {
    const daemon = await use.daemon();
    return use.connect<Echo>(daemon.register(new Echo(), "echo"));
  }

  const values: [string, unknown][] = [
    ["plain JSON", { a: [1, "x", null, { b: true }] }],
    ["a Date", new Date("2024-05-06T07:08:09.010Z")],
    ["a Map", new Map<unknown, unknown>([["a", 1], [2, new Date(3)]])],
    ["a Set", new Set([1, "two", 3n])],
    ["a BigInt", -(2n ** 80n)],
    ["undefined", undefined],
    ["nested undefined", [undefined, { u: undefined }]],
    ["NaN, Infinity and -0", [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
    ["a RegExp", /a+b/gi],
    ["a registered class", new Point(6, 8, new Date(9))],
    ...binaries().map((b): [string, unknown] => [`a ${nameOf(b)}`, b]),
  ];

  it("round trips every kind of value as an argument and a result", async () => {
    const proxy = await echoProxy();
    for (const [name, value] of values) {
      expect(await proxy.echo(value), name).toStrictEqual(value);
    }
  });

  it("gives the remote object the same types it was sent", async () => {
    const proxy = await echoProxy();
    for (const value of [new Date(0), new Map(), new Set(), new Point(1, 1), ...binaries()]) {
      expect(await proxy.typeName(value)).toBe(nameOf(value as object));
    }
    expect(await proxy.typeName(undefined)).toBe("undefined");
    expect(await proxy.typeName(1n)).toBe("bigint");
  });

  it("keeps binary types and bytes through a real call", async () => {
    const proxy = await echoProxy();
    for (const value of binaries()) {
      expectSameBinary(await proxy.echo(value), value);
    }
  });

  it("round trips a URL", async () => {
    const proxy = await echoProxy();
    const url = (await proxy.echo(new URL("http://127.0.0.1:9090/x?y=1"))) as URL;
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe("http://127.0.0.1:9090/x?y=1");
  });

  it("round trips a registered class with its prototype", async () => {
    const proxy = await echoProxy();
    const point = (await proxy.echo(new Point(3, 4))) as Point;
    expect(point).toBeInstanceOf(Point);
    expect(point.norm()).toBe(5);
  });

  it("round trips a nested structure holding a Buffer, a Float64Array and a Map in one argument", async () => {
    const proxy = await echoProxy();
    const scan = {
      id: "scan-1",
      taken: new Date(1_700_000_000_000),
      raw: Buffer.from([0, 1, 2, 250, 255]),
      spectrum: Float64Array.of(1.5, Number.NaN, -0, 1e-300),
      settings: new Map<string, unknown>([
        ["gain", 3n],
        ["window", { from: 1500, to: 1600, weights: Float32Array.of(0.25, 0.5) }],
        ["tags", new Set(["ir", "lab-2"])],
      ]),
      frames: [{ index: 0, bytes: Uint16Array.of(1, 65535) }, { index: 1, bytes: Uint16Array.of() }],
    };
    const [first, second] = await proxy.echoAll(scan, "and a second argument");
    expect(first).toStrictEqual(scan);
    expect(second).toBe("and a second argument");
    const back = first as typeof scan;
    expect(Buffer.isBuffer(back.raw)).toBe(true);
    expectSameBinary(back.spectrum, scan.spectrum);
    expect(back.settings).toBeInstanceOf(Map);
    expectSameBinary((back.settings.get("window") as { weights: Float32Array }).weights, Float32Array.of(0.25, 0.5));
  });

  it("round trips 1 MiB buffers in both directions", async () => {
    const proxy = await echoProxy();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096;
    const floats = new Float64Array(1 << 17).map((_, i) => i / 3);
    const [b, f] = await proxy.echoAll(big, floats);
    expect((b as Buffer).equals(big)).toBe(true);
    expectSameBinary(f, floats);
  });
});
