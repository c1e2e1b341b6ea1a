/**
 * The pure Pyro5 wire codec (src/pyro5/wire), no I/O; the same codec against the real
 * Python Pyro5 is test/pyro5-wire-python.test.ts.
 * Here: the header, messages, and the incremental reader.
 */
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { MessageTooLargeError, ProtocolError } from "../src/errors.js";
import { Flag, HEADER_SIZE, MessageType, SerializerId } from "../src/pyro5/wire/constants.js";
import { decodeHeader, encodeHeader } from "../src/pyro5/wire/header.js";
import { encodePyro5Message, type Pyro5Message } from "../src/pyro5/wire/message.js";
import { jsonSerializer } from "../src/pyro5/wire/serializer.js";
import { message, reader } from "./pyro5-wire-helpers.js";
import { prng } from "./seeded.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const ZEROS16 = "00".repeat(16);
// PYRO5-WIRE.md §13: add(2, 3) on example.calc, json, seq 1, and the reply of the Python daemon.
const ADD_REQUEST = hex(`50 59 52 4f 01 f6 04 03 00 00 00 01 00 00 00 43 00 00 00 00 ${ZEROS16} 00 00 4d c5`);
const ADD_PAYLOAD = '{"object":"example.calc","method":"add","params":[2,3],"kwargs":{}}';
const ADD_REPLY = hex("50 59 52 4f 01 f6 05 03 00 40 00 01 00 00 00 01 00 00 00 00 c1 aa 5b da b0 8a 4a ba be d0 5b af 2b cc 3e a9 00 00 4d c5 35");
const CONNECT_HEADER = hex(`50 59 52 4f 01 f6 01 03 00 00 00 00 00 00 00 2d 00 00 00 00 ${ZEROS16} 00 00 4d c5`);

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
