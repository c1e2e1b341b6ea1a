/**
 * The pure Pyro5 wire codec (src/pyro5/wire): header, messages, the incremental reader, the
 * Python-compatible json serializer, Pyro5's class dicts and PythonError. No I/O; the same
 * codec against the real Python Pyro5 is test/pyro5-wire-python.test.ts.
 */
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  ConnectionClosedError, DaemonError, LimitExceededError, LockedError, MessageTooLargeError, NamingError, ProtocolError,
  PyroError, RemoteError, SecurityError, SerializeError, TimeoutError, UnknownMemberError,
} from "../src/errors.js";
import {
  errorToExceptionDict, errorToExceptionWrapperDict, exceptionFromDict, exceptionFromWrapperDict, isClassDict,
  isRebuildableByPython, proxyFromDict, proxyToDict, uriFromDict, uriToDict,
} from "../src/pyro5/wire/class-dicts.js";
import { Flag, HEADER_SIZE, MessageType, PYRO5_MAX_MESSAGE_SIZE, SerializerId } from "../src/pyro5/wire/constants.js";
import { decodeHeader, encodeHeader } from "../src/pyro5/wire/header.js";
import { MAX_JSON_DEPTH, parsePythonJson, parsePythonJsonLossless } from "../src/pyro5/wire/json-parse.js";
import { encodePyro5Message, type Pyro5Message } from "../src/pyro5/wire/message.js";
import { Pyro5MessageReader } from "../src/pyro5/wire/message-reader.js";
import { PythonError } from "../src/pyro5/wire/python-error.js";
import { jsonSerializer, serializerById, serializerByName } from "../src/pyro5/wire/serializer.js";
import { prng } from "./seeded.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const ZEROS16 = "00".repeat(16);
// PYRO5-WIRE.md §13: add(2, 3) on example.calc, json, seq 1, and the reply of the Python daemon.
const ADD_REQUEST = hex(`50 59 52 4f 01 f6 04 03 00 00 00 01 00 00 00 43 00 00 00 00 ${ZEROS16} 00 00 4d c5`);
const ADD_PAYLOAD = '{"object":"example.calc","method":"add","params":[2,3],"kwargs":{}}';
const ADD_REPLY = hex("50 59 52 4f 01 f6 05 03 00 40 00 01 00 00 00 01 00 00 00 00 c1 aa 5b da b0 8a 4a ba be d0 5b af 2b cc 3e a9 00 00 4d c5 35");
const CONNECT_HEADER = hex(`50 59 52 4f 01 f6 01 03 00 00 00 00 00 00 00 2d 00 00 00 00 ${ZEROS16} 00 00 4d c5`);

const reader = (maxMessageSize = PYRO5_MAX_MESSAGE_SIZE): Pyro5MessageReader => new Pyro5MessageReader({ maxMessageSize });
const lossless = parsePythonJsonLossless;
const message = (fields: Partial<Parameters<typeof encodePyro5Message>[0]> = {}): Buffer =>
  encodePyro5Message({ type: MessageType.result, serializerId: SerializerId.json, seq: 7, payload: "42", ...fields });

describe("Pyro5 header and messages", () => {
  it("encodes the worked example of PYRO5-WIRE.md §13 byte for byte", () => {
    const call = jsonSerializer.encode({ object: "example.calc", method: "add", params: [2, 3], kwargs: {} });
    expect(call.toString()).toBe(ADD_PAYLOAD);
    const request = encodePyro5Message({ type: MessageType.invoke, serializerId: SerializerId.json, seq: 1, payload: call });
    expect(request.length).toBe(107);
    expect(request).toEqual(Buffer.concat([ADD_REQUEST, Buffer.from(ADD_PAYLOAD)]));
    const connect = encodePyro5Message({ type: MessageType.connect, serializerId: SerializerId.json, seq: 0, payload: jsonSerializer.encode({ handshake: "hello", object: "example.calc" }) });
    expect(connect.length).toBe(85);
    expect(connect.subarray(0, HEADER_SIZE)).toEqual(CONNECT_HEADER);
  });

  it("reads the Python daemon's reply of §13", () => {
    const [reply, ...more] = reader().push(ADD_REPLY);
    expect(more).toEqual([]);
    expect(reply).toMatchObject({ type: MessageType.result, serializerId: SerializerId.json, flags: Flag.correlationId, seq: 1 });
    expect(reply!.correlationId).toEqual(hex("c1aa5bdab08a4ababed05baf2bcc3ea9"));
    expect(reply!.annotations.size).toBe(0);
    expect(jsonSerializer.decode(reply!.payload)).toBe(5);
  });

  it("round-trips header fields and checks their ranges", () => {
    const header = { type: 6, serializerId: 42, flags: 0xffff, seq: 0xffff, dataLength: 0xffffffff, annotationsLength: 3, correlationId: Buffer.alloc(16, 7) };
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
    expect(() => encodeHeader({ ...header, seq: 0x10000 })).toThrow(ProtocolError);
    expect(() => encodeHeader({ ...header, type: -1 })).toThrow(/type/);
    expect(() => encodeHeader({ ...header, correlationId: Buffer.alloc(5) })).toThrow(/16 bytes/);
    expect(() => decodeHeader(ADD_REQUEST.subarray(0, 39))).toThrow(ProtocolError);
  });

  it("sets the correlation id flag from the id, and writes annotations in order", () => {
    const id = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const withId = reader().push(message({ correlationId: id, flags: Flag.oneway }))[0]!;
    expect(withId.flags).toBe(Flag.oneway | Flag.correlationId);
    expect(withId.correlationId).toEqual(id);
    const without = reader().push(message({ flags: Flag.correlationId | Flag.exception }))[0]!;
    expect(without.flags).toBe(Flag.exception);
    expect(without.correlationId).toBeUndefined();
    const annotations = new Map([["STRM", Buffer.from("stream-1")], ["XTRA", Buffer.alloc(0)], ["ab\u0001d", Buffer.from([0, 255])]]);
    const bytes = message({ annotations });
    expect(bytes.readUInt32BE(16)).toBe(8 + 8 + 8 + 0 + 8 + 2);
    expect(bytes.subarray(40, 52).toString("latin1")).toBe("STRM\0\0\0\x08stre");
    const read = reader().push(bytes)[0]!;
    expect([...read.annotations.keys()]).toEqual(["STRM", "XTRA", "ab\u0001d"]);
    expect(read.annotations.get("ab\u0001d")).toEqual(Buffer.from([0, 255]));
    expect(read.payload.toString()).toBe("42");
    expect(() => message({ annotations: new Map([["LONGER", Buffer.alloc(1)]]) })).toThrow(/4 ASCII/);
    expect(() => message({ annotations: new Map([["é123", Buffer.alloc(1)]]) })).toThrow(ProtocolError);
  });

  it("deflates a payload flagged compressed, and the reader inflates it and clears the flag", () => {
    const text = JSON.stringify(Array.from({ length: 500 }, (_, i) => `item ${i % 7}`));
    const bytes = message({ flags: Flag.compressed | Flag.batch, payload: text });
    expect(bytes.length).toBeLessThan(HEADER_SIZE + text.length / 4);
    const read = reader().push(bytes)[0]!;
    expect(read.flags).toBe(Flag.batch);
    expect(read.payload.toString()).toBe(text);
  });
});

describe("Pyro5MessageReader", () => {
  const messages = [
    message({ seq: 1, payload: "1" }),
    message({ seq: 2, type: MessageType.ping, serializerId: 42, payload: "pong", correlationId: Buffer.alloc(16, 1) }),
    message({ seq: 3, payload: "", annotations: new Map([["STRM", Buffer.from("x")]]) }),
    message({ seq: 4, payload: '"héllo ☃ 𝄞"', flags: Flag.compressed }),
  ];
  const all = Buffer.concat(messages);

  it("gives the same messages whether the bytes come at once, byte by byte, or in random pieces", () => {
    const atOnce = reader().push(all);
    expect(atOnce.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    const r = reader();
    const byByte: Pyro5Message[] = [];
    for (let i = 0; i < all.length; i++) {
      byByte.push(...r.push(all.subarray(i, i + 1)));
      if (i === 10) expect(r.pending).toBe(11);
    }
    expect(byByte).toEqual(atOnce);
    expect(r.pending).toBe(0);
    const random = prng(15);
    for (let round = 0; round < 50; round++) {
      const pieces = reader();
      const got: Pyro5Message[] = [];
      for (let at = 0; at < all.length; ) {
        const size = Math.floor(random() * 60);
        got.push(...pieces.push(all.subarray(at, at + size)));
        at += size;
      }
      expect(got).toEqual(atOnce);
    }
    expect(atOnce[3]!.payload.toString()).toBe('"héllo ☃ 𝄞"');
  });

  it("hands out a payload lying in one chunk as a view, and joins a large one from many chunks once", () => {
    const big = message({ payload: "x".repeat(100_000) });
    const [view] = reader().push(big);
    expect(view!.payload.buffer).toBe(big.buffer);
    // 16 MB in 1 KB chunks: a reader that re-joined its buffer per chunk would copy terabytes.
    const huge = message({ payload: Buffer.alloc(16 * 1024 * 1024, 0x61) });
    const r = reader();
    const got: Pyro5Message[] = [];
    for (let at = 0; at < huge.length; at += 1024) got.push(...r.push(huge.subarray(at, at + 1024)));
    expect(got).toHaveLength(1);
    expect(got[0]!.payload.length).toBe(16 * 1024 * 1024);
    expect(got[0]!.payload.every((byte) => byte === 0x61)).toBe(true);
  });

  const refusals: [string, Buffer, RegExp, typeof ProtocolError][] = [
    ["HTTP instead of Pyro", Buffer.from("GET / HTTP/1.1\r\n"), /not a Pyro5 message/, ProtocolError],
    ["one wrong byte", Buffer.from("X"), /not a Pyro5 message/, ProtocolError],
    ["Pyro4's protocol version", hex("5059524f0030"), /version 48.*Pyro4/, ProtocolError],
    ["a wrong magic number", Buffer.from(ADD_REQUEST).fill(0, 38), /magic/, ProtocolError],
    ["message type 0", Buffer.from(ADD_REQUEST).fill(0, 6, 7), /message type 0/, ProtocolError],
    ["message type 7", Buffer.from(ADD_REQUEST).fill(7, 6, 7), /message type 7/, ProtocolError],
    ["a 4 GB data length", Buffer.from(ADD_REQUEST).fill(0xff, 12, 16), /exceeds the limit/, MessageTooLargeError],
    ["a 4 GB annotations length", Buffer.from(ADD_REQUEST).fill(0xff, 16, 20), /exceeds the limit/, MessageTooLargeError],
  ];
  it.each(refusals)("refuses %s as soon as the bytes show it, and stays spent", (_, bytes, pattern, type) => {
    const r = reader(1 << 20);
    expect(() => r.push(bytes)).toThrow(type);
    expect(() => reader(1 << 20).push(bytes)).toThrow(pattern);
    expect(r.pending).toBe(0);
    expect(() => r.push(messages[0]!)).toThrow(/unusable after an earlier error/);
  });

  it("checks annotations, zlib data and the inflated size", () => {
    const withAnnotation = message({ annotations: new Map([["STRM", Buffer.from("abc")]]) });
    const overrun = Buffer.from(withAnnotation);
    overrun.writeUInt32BE(4, HEADER_SIZE + 4);
    expect(() => reader().push(overrun)).toThrow(/annotation "STRM" claims 4 bytes but only 3 remain/);
    const shortChunk = Buffer.from(withAnnotation);
    shortChunk.writeUInt32BE(5, 16); // annotations length 5 < a chunk header
    shortChunk.writeUInt32BE(2 + 6, 12);
    expect(() => reader().push(shortChunk)).toThrow(/chunk header overruns/);
    const nonAscii = Buffer.from(withAnnotation);
    nonAscii[HEADER_SIZE] = 0xc3;
    expect(() => reader().push(nonAscii)).toThrow(/not ASCII/);
    const badZlib = Buffer.from(message({ payload: "not deflated" }));
    badZlib.writeUInt16BE(Flag.compressed, 8);
    expect(() => reader().push(badZlib)).toThrow(/not valid zlib data/);
    const bomb = deflateSync(Buffer.alloc(10 * 1024 * 1024));
    const bombMessage = Buffer.concat([encodeHeader({ type: 5, serializerId: 3, flags: Flag.compressed, seq: 0, dataLength: bomb.length, annotationsLength: 0, correlationId: Buffer.alloc(16) }), bomb]);
    expect(() => reader(1024 * 1024).push(bombMessage)).toThrow(MessageTooLargeError);
    expect(reader(11 * 1024 * 1024).push(bombMessage)[0]!.payload.length).toBe(10 * 1024 * 1024);
  });

  it("refuses a message over the limit from its header alone, before the body arrives", () => {
    const r = reader(1000);
    const header = encodeHeader({ type: 4, serializerId: 3, flags: 0, seq: 0, dataLength: 600, annotationsLength: 401, correlationId: Buffer.alloc(0) });
    expect(() => r.push(header)).toThrow(/1001 bytes.*limit of 1000/);
    expect(reader(1001).push(header)).toEqual([]);
  });
});

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

describe("Pyro5 class dicts", () => {
  const pythonValueError = {
    __class__: "builtins.ValueError", __exception__: true, args: ["not homed"],
    attributes: { _pyroTraceback: ["Traceback (most recent call last):\n", '  File "x.py", line 1\n', "ValueError: not homed\n"], code: 7 },
  };

  it("reads exception dicts, and nothing else as one", () => {
    expect(isClassDict(pythonValueError)).toBe(true);
    expect(isClassDict({ __class__: 1 })).toBe(false);
    expect(exceptionFromDict(pythonValueError)).toEqual({
      pythonType: "builtins.ValueError", args: ["not homed"], attributes: { code: 7 },
      traceback: 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: not homed\n',
    });
    expect(exceptionFromDict({ __class__: "Pyro5.errors.NamingError", args: ["unknown name: x"] })).toEqual({ pythonType: "Pyro5.errors.NamingError", args: ["unknown name: x"], attributes: {} });
    expect(exceptionFromDict({ __class__: "builtins.StopIteration", __exception__: true, args: [], attributes: { _pyroTraceback: null } })).toEqual({ pythonType: "builtins.StopIteration", args: [], attributes: {} });
    for (const value of [null, 5, "x", [], { a: 1 }, { __class__: "Pyro5.core.URI", state: [] }, { __class__: "x.Y", __exception__: "yes" }]) {
      expect(exceptionFromDict(value)).toBeUndefined();
    }
    const wrapped = { __class__: "Pyro5.core._ExceptionWrapper", exception: pythonValueError };
    expect(exceptionFromWrapperDict(wrapped)?.pythonType).toBe("builtins.ValueError");
    expect(exceptionFromWrapperDict(pythonValueError)).toBeUndefined();
  });

  it("maps TypeScript errors onto classes a Python peer rebuilds", () => {
    const cases: [unknown, string, string][] = [
      [new TypeError("t"), "builtins.TypeError", "t"],
      [new RangeError("r"), "builtins.ValueError", "r"],
      [new UnknownMemberError("no member x"), "builtins.AttributeError", "no member x"],
      [new NamingError("n"), "Pyro5.errors.NamingError", "n"],
      [new DaemonError("d"), "Pyro5.errors.DaemonError", "d"],
      [new SecurityError("s"), "Pyro5.errors.SecurityError", "s"],
      [new ProtocolError("p"), "Pyro5.errors.ProtocolError", "p"],
      [new SerializeError("z"), "Pyro5.errors.SerializeError", "z"],
      [new TimeoutError("o"), "Pyro5.errors.TimeoutError", "o"],
      [new ConnectionClosedError("c"), "Pyro5.errors.ConnectionClosedError", "c"],
      [new MessageTooLargeError("m"), "Pyro5.errors.MessageTooLargeError", "m"],
      [new PyroError("y"), "Pyro5.errors.PyroError", "y"],
      [new LockedError("held by x"), "Pyro5.errors.SecurityError", "LockedError: held by x"],
      [new LimitExceededError("too many"), "Pyro5.errors.DaemonError", "LimitExceededError: too many"],
      [new Error("plain"), "builtins.RuntimeError", "Error: plain"],
      [new RemoteError("RangeError", "far away"), "builtins.RuntimeError", "RangeError: far away"],
      ["a string", "builtins.RuntimeError", "thrown value: a string"],
    ];
    for (const [error, pythonType, message] of cases) {
      const dict = errorToExceptionDict(error);
      expect(dict).toMatchObject({ __class__: pythonType, __exception__: true, args: [message] });
      const traceback = (dict.attributes as { _pyroTraceback: string[] })._pyroTraceback;
      expect(traceback.length).toBeGreaterThan(0);
      expect(traceback.every((line) => line.endsWith("\n"))).toBe(true);
      expect(isRebuildableByPython(pythonType)).toBe(true);
    }
    expect(errorToExceptionWrapperDict(new TypeError("t"))).toMatchObject({ __class__: "Pyro5.core._ExceptionWrapper", exception: { __class__: "builtins.TypeError" } });
  });

  it("sends a Python exception back as itself when Python can rebuild it", () => {
    const info = exceptionFromDict(pythonValueError)!;
    expect(errorToExceptionDict(PythonError.fromInfo(info))).toEqual({ ...pythonValueError, attributes: { code: 7, _pyroTraceback: pythonValueError.attributes._pyroTraceback } });
    const custom = PythonError.fromInfo({ pythonType: "__main__.StageError", args: ["jammed"], attributes: {} });
    expect(errorToExceptionDict(custom)).toMatchObject({ __class__: "builtins.RuntimeError", args: ["__main__.StageError: jammed"], attributes: { _pyroTraceback: null } });
    expect(isRebuildableByPython("Pyro5.errors.Nope")).toBe(false);
    expect(isRebuildableByPython("builtins.__import__")).toBe(false);
  });

  it("reads and writes URI dicts as Pyro5's URI class does", () => {
    const cases: [string, unknown[], string?][] = [
      ["PYRO:obj@127.0.0.1:9999", ["PYRO", "obj", null, "127.0.0.1", 9999]],
      ["PYRO:obj@[::1]:9999", ["PYRO", "obj", null, "::1", 9999]],
      ["PYRO:obj@./u:/tmp/sock", ["PYRO", "obj", "/tmp/sock", null, null]],
      ["PYRONAME:lab.stage", ["PYRONAME", "lab.stage", null, null, null]],
      ["pyroname:lab.stage@ns.local", ["PYRONAME", "lab.stage", null, "ns.local", 9090], "PYRONAME:lab.stage@ns.local:9090"],
      ["PYROMETA:a,b,a@h:1", ["PYROMETA", ["a", "b"], null, "h", 1], "PYROMETA:a,b@h:1"],
    ];
    for (const [uri, state, text] of cases) {
      const dict = uriToDict(uri);
      expect(dict).toEqual({ __class__: "Pyro5.core.URI", state });
      expect(uriFromDict(dict)).toBe(text ?? uri);
    }
    for (const bad of ["PYRO:obj", "PYRO:obj@host", "PYRO:obj@host:port", "HTTP:x@h:1", "PYRO:obj@./u:", "PYRO:obj@[x]:1", "nonsense"]) {
      expect(() => uriToDict(bad)).toThrow(NamingError);
    }
    for (const bad of [null, {}, { __class__: "Pyro5.core.URI" }, { __class__: "Pyro5.core.URI", state: ["PYRO", 1, null, "h", 1] }, { __class__: "Pyro5.core.URI", state: ["PYRO", "x", null, "h", null] }]) {
      expect(uriFromDict(bad)).toBeUndefined();
    }
  });

  it("reads and writes proxy dicts", () => {
    const proxy = { uri: "PYRO:child@127.0.0.1:1", oneway: ["note"], methods: ["note", "add"], attrs: ["power"] };
    const dict = proxyToDict(proxy);
    expect(dict).toEqual({ __class__: "Pyro5.client.Proxy", state: ["PYRO:child@127.0.0.1:1", ["note"], ["note", "add"], ["power"], "hello", null] });
    expect(proxyFromDict(dict)).toEqual(proxy);
    expect(proxyFromDict({ __class__: "Pyro5.client.Proxy", state: ["PYRO:x@h:1", [], [1], []] })).toBeUndefined();
    expect(proxyFromDict(uriToDict("PYRO:x@h:1"))).toBeUndefined();
  });
});

describe("PythonError", () => {
  it("is a RemoteError with Python's short name, str() as message and the traceback", () => {
    const error = PythonError.fromInfo({ pythonType: "builtins.ValueError", args: ["not homed"], traceback: "Traceback...\nValueError: not homed\n", attributes: { code: 7 } });
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ValueError");
    expect(error.message).toBe("not homed");
    expect(error.remoteStack).toContain("ValueError: not homed");
    expect(error.attributes).toEqual({ code: 7 });
    expect(error.info).toEqual({ pythonType: "builtins.ValueError", args: ["not homed"], traceback: "Traceback...\nValueError: not homed\n", attributes: { code: 7 } });
    const message = (pythonType: string, args: unknown[]): string => PythonError.fromInfo({ pythonType, args, attributes: {} }).message;
    expect(message("builtins.StopIteration", [])).toBe("");
    expect(message("builtins.KeyError", ["k"])).toBe("'k'");
    expect(message("builtins.OSError", [2, "No such file"])).toBe("(2, 'No such file')");
    expect(message("builtins.ValueError", [NaN])).toBe("nan");
    expect(PythonError.fromInfo({ pythonType: "Pyro5.errors.NamingError", args: ["x"], attributes: {} }).name).toBe("NamingError");
  });
});

describe("fuzz: random and mutated bytes", () => {
  const seed = Number(process.env.PYRO_FUZZ_SEED ?? 20250515);
  // A typed error with a cause wraps an unexpected exception: a bug the fuzz must find.
  const typed = (error: unknown): boolean =>
    (error instanceof ProtocolError || error instanceof MessageTooLargeError || error instanceof SerializeError) && error.cause === undefined;

  it(`the reader and decoders throw only typed errors (seed ${seed})`, () => {
    const random = prng(seed);
    const int = (n: number): number => Math.floor(random() * n);
    const valid = [
      message({ payload: jsonSerializer.encode({ __class__: "builtins.ValueError", __exception__: true, args: ["x", 2n ** 70n, NaN] }) }),
      message({ payload: jsonSerializer.encode(uriToDict("PYRO:x@h:1")), annotations: new Map([["STRM", Buffer.from("id")]]), correlationId: Buffer.alloc(16, 3) }),
      message({ payload: jsonSerializer.encode({ a: [1, 2.5, "é", null, { b: true }] }), flags: Flag.compressed }),
      message({ payload: jsonSerializer.encode(proxyToDict({ uri: "PYRO:c@h:2", oneway: [], methods: ["m"], attrs: [] })) }),
    ];
    let read = 0;
    let decoded = 0;
    const jsonish = '{}[]",:.-e0123456789NaInfty \\u';
    const mutate = (input: Buffer): Buffer => {
      let bytes = Buffer.from(input);
      for (let edits = 1 + int(3); edits > 0; edits--) {
        const choice = int(10);
        const body = HEADER_SIZE + int(Math.max(1, bytes.length - HEADER_SIZE));
        if (choice < 5) bytes[body] = int(2) ? jsonish.charCodeAt(int(jsonish.length)) : int(256); // framing stays whole
        else if (choice === 5) bytes[int(bytes.length)] = int(256);
        else if (choice === 6) bytes = bytes.subarray(0, int(bytes.length));
        else if (choice === 7 && bytes.length >= 20) bytes.writeUInt32BE(int(2) ? int(2 ** 32) : int(100), [12, 16][int(2)]!);
        else if (choice === 8 && bytes.length >= 10) bytes.writeUInt16BE(int(0x80), 8);
        else bytes = Buffer.concat([bytes.subarray(0, body), Buffer.from([jsonish.charCodeAt(int(jsonish.length))]), bytes.subarray(body)]);
      }
      return bytes;
    };
    for (let round = 0; round < 3000; round++) {
      const parts: Buffer[] = [];
      if (round % 10 === 0) parts.push(Buffer.from(Array.from({ length: int(200) }, () => int(256))));
      else for (let n = 1 + int(3); n > 0; n--) parts.push(int(4) === 0 ? valid[int(valid.length)]! : mutate(valid[int(valid.length)]!));
      const bytes = Buffer.concat(parts);
      const r = reader(1 << 16);
      try {
        for (let at = 0; at < bytes.length; ) {
          const size = 1 + int(50);
          for (const got of r.push(bytes.subarray(at, at + size))) {
            read++;
            let value: unknown;
            try {
              value = jsonSerializer.decode(got.payload);
            } catch (error) {
              if (!typed(error)) throw new Error(`round ${round}: decode threw ${String(error)}`);
              continue;
            }
            decoded++;
            exceptionFromDict(value);
            uriFromDict(value);
            proxyFromDict(value);
            exceptionFromWrapperDict(value);
            if (exceptionFromDict(value)) PythonError.fromInfo(exceptionFromDict(value)!);
          }
          at += size;
        }
      } catch (error) {
        if (!typed(error)) throw new Error(`round ${round} (seed ${seed}): ${String(error)} for ${bytes.toString("hex")}`);
      }
    }
    console.log(`fuzz: ${read} messages read, ${decoded} payloads decoded`);
    // The mutations must leave enough messages whole for the decoders to be fuzzed too.
    expect(read).toBeGreaterThan(300);
    expect(decoded).toBeGreaterThan(100);
  });

  it(`the lossless json parser agrees with JSON.parse on mutated text (seed ${seed})`, () => {
    const random = prng(seed + 1);
    const int = (n: number): number => Math.floor(random() * n);
    const corpus = [
      '{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\\n\\u00e9"}, "": []}',
      '[0, -0, 1.25, "x", {"k": [{}]}, "\\ud834\\udd1e"]',
      '{"__class__": "Pyro5.core.URI", "state": ["PYRO", "o", null, "h", 1]}',
    ];
    const alphabet = '{}[]",:.-+eE0123456789 \\ut\nnlrfa';
    for (let round = 0; round < 5000; round++) {
      let text = corpus[int(corpus.length)]!;
      for (let edits = 1 + int(3); edits > 0; edits--) {
        const at = int(text.length + 1);
        const choice = int(3);
        if (choice === 0) text = text.slice(0, at) + text.slice(at + 1);
        else if (choice === 1) text = text.slice(0, at) + alphabet.charAt(int(alphabet.length)) + text.slice(at);
        else text = text.slice(0, at) + alphabet.charAt(int(alphabet.length)) + text.slice(at + 1);
      }
      if (/\d{16}/.test(text)) continue;
      let expected: { value: unknown } | undefined;
      try {
        expected = { value: JSON.parse(text) };
      } catch {
        expected = undefined;
      }
      let got: { value: unknown } | undefined;
      try {
        got = { value: lossless(text) };
      } catch (error) {
        if (!(error instanceof SerializeError)) throw new Error(`round ${round}: ${String(error)} for ${JSON.stringify(text)}`);
        got = undefined;
      }
      if (got === undefined || expected === undefined) expect({ text, parsed: got !== undefined }).toEqual({ text, parsed: expected !== undefined });
      else expect(got.value).toEqual(expected.value);
    }
  });
});
