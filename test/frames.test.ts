import { describe, expect, it } from "vitest";
import { MessageTooLargeError, ProtocolError } from "../src/index.js";
import {
  HEADER_SIZE,
  decodeMessage,
  encodeMessage,
  messageSize,
  outgoingSize,
  peekCorrelationId,
  peekOneway,
  type OutFrame,
} from "../src/protocol/frames.js";
import { readAttachments } from "../src/protocol/header.js";
import { KIND_CODES, PROTOCOL_VERSION, type Message, type Payload } from "../src/protocol/message.js";
import { header as wireHeader, type HeaderFields } from "./garbage/wire.js";

/** Frames as a socket would deliver them: every one a Buffer. */
function received(frames: readonly OutFrame[]): Buffer[] {
  return frames.map((f) => (typeof f === "string" ? Buffer.from(f, "utf8") : Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
}

function roundTrip(message: Message): Message {
  return decodeMessage(received(encodeMessage(message)));
}


/** A result header by default (id 7): see test/garbage/wire.ts. */
function header({ kind = KIND_CODES.result, id = 7, ...fields }: HeaderFields = {}): Buffer {
  return wireHeader({ kind, id, ...fields });
}

function body(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Decodes, expects a ProtocolError and returns its message. */
function protocolErrorOf(frames: Uint8Array[]): string {
  let thrown: unknown;
  try {
    decodeMessage(frames);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  return (thrown as ProtocolError).message;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const plain = (json: unknown): Payload => ({ value: { json }, attachments: [] });
const annotated: Payload = {
  value: { json: [0, "2024-01-01T00:00:00.000Z"], meta: { values: { "0": [["custom", "Buffer"]], "1": ["Date"] }, v: 1 } },
  attachments: [Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.from([255])],
};

describe("encodeMessage and decodeMessage", () => {
  const messages: [string, Message][] = [
    ["call", { kind: "call", id: 1, oneway: false, object: "laser", member: "setPower", args: plain([5, "mW"]) }],
    ["oneway call", { kind: "call", id: 2, oneway: true, object: "laser", member: "blink", args: plain([3]) }],
    ["call with attachments", { kind: "call", id: 3, oneway: false, object: "cam", member: "upload", args: annotated }],
    ["get", { kind: "get", id: 4, object: "laser", member: "power" }],
    ["set", { kind: "set", id: 5, object: "laser", member: "power", value: plain(7) }],
    ["set with attachments", { kind: "set", id: 6, object: "cam", member: "frame", value: annotated }],
    ["result", { kind: "result", id: 0xffff_ffff, value: plain({ a: [1, null, "x"] }) }],
    ["result with attachments", { kind: "result", id: 8, value: annotated }],
    ["error", { kind: "error", id: 9, value: plain({ name: "RangeError", message: "negative" }) }],
    ["error with attachments", { kind: "error", id: 10, value: annotated }],
    ["heartbeat", { kind: "heartbeat", id: 0 }],
    ["subscribe", { kind: "subscribe", id: 11, object: "laser", signal: "powerChanged" }],
    ["unsubscribe", { kind: "unsubscribe", id: 12, object: "laser", signal: "powerChanged" }],
    ["event", { kind: "event", id: 13, object: "laser", signal: "powerChanged", dropped: 0, args: plain([5]) }],
    ["event with drops and attachments", { kind: "event", id: 14, object: "cam", signal: "frame", dropped: 3, args: annotated }],
    ["ack", { kind: "ack", id: 15 }],
  ];

  it.each(messages)("round trips a %s", (_name, message) => {
    expect(roundTrip(message)).toEqual(message);
  });

  it("writes the header, then the body, in the first frame: version, kind, oneway flag, correlation id, attachment count", () => {
    const [first] = received(encodeMessage({ kind: "call", id: 0x01020304, oneway: true, object: "o", member: "m", args: plain([1]) }));
    // 0x01020304 in 7-bit digits: 0, 8, 8, 6, 4 (0x01020304 = ((8 * 128 + 8) * 128 + 6) * 128 + 4).
    expect([...first!.subarray(0, HEADER_SIZE)]).toEqual([PROTOCOL_VERSION, KIND_CODES.call, 1, 0, 0, 8, 8, 6, 4, 0, 0, 0]);
    expect(first!.toString("utf8", HEADER_SIZE)).toBe(`["o","m",[1]]`);
  });

  it("puts attachments after the first frame, byte for byte", () => {
    const frames = received(encodeMessage({ kind: "result", id: 1, value: annotated }));
    expect(frames).toHaveLength(1 + annotated.attachments.length);
    expect(readAttachments(frames[0]!)).toBe(3);
    expect(frames.slice(1).map((f) => [...f])).toEqual([[1, 2, 3], [], [255]]);
  });

  it("sends plain values without annotations and annotated ones with them", () => {
    const bodyOf = (value: Payload): unknown => JSON.parse(received(encodeMessage({ kind: "result", id: 1, value }))[0]!.toString("utf8", HEADER_SIZE));
    expect(bodyOf(plain([1, 2]))).toEqual([[1, 2]]);
    expect(bodyOf(annotated)).toEqual([annotated.value.json, annotated.value.meta]);
  });

  it("refuses to encode more binary values than the header's three 7-bit digits count", () => {
    const many = (n: number): Payload => ({ value: { json: null }, attachments: new Array<Uint8Array>(n).fill(Buffer.alloc(0)) });
    expect(() => encodeMessage({ kind: "result", id: 1, value: many(2 ** 21) })).toThrow(MessageTooLargeError);
    expect(readAttachments(received(encodeMessage({ kind: "result", id: 1, value: many(2 ** 21 - 1) }))[0]!)).toBe(2 ** 21 - 1);
  });

  it("encodes messages made one after another, small or large, ASCII or not", () => {
    const texts = ["a", "µW ✓ 😀".repeat(3), "x".repeat(700), "é".repeat(1000), "y".repeat(5000)];
    const encoded = Array.from({ length: 300 }, (_, i) => encodeMessage({ kind: "result", id: i, value: plain(texts[i % texts.length]) }));
    // Decoded only after all were made: no later message wrote over an earlier one's bytes.
    encoded.forEach((frames, i) => expect(decodeMessage(received(frames))).toEqual({ kind: "result", id: i, value: plain(texts[i % texts.length]) }));
  });

  it("encodes undefined json as null", () => {
    const decoded = roundTrip({ kind: "result", id: 1, value: { value: { json: undefined }, attachments: [] } });
    expect(decoded).toEqual({ kind: "result", id: 1, value: plain(null) });
  });

  it("decodes frames that are views into a larger buffer", () => {
    const frames = received(encodeMessage({ kind: "call", id: 42, oneway: false, object: "o", member: "m", args: plain([1]) }));
    const views = frames.map((f) => {
      const big = Buffer.alloc(f.length + 5, 0xee);
      f.copy(big, 3);
      return big.subarray(3, 3 + f.length);
    });
    expect(decodeMessage(views)).toEqual({ kind: "call", id: 42, oneway: false, object: "o", member: "m", args: plain([1]) });
  });

  it("keeps non-ASCII text intact", () => {
    const message: Message = { kind: "call", id: 1, oneway: false, object: "λ-laser", member: "név", args: plain(["µW ✓ 😀"]) };
    expect(roundTrip(message)).toEqual(message);
  });
});

describe("decodeMessage errors", () => {
  it("needs a first frame with a header and a body", () => {
    expect(protocolErrorOf([])).toBe("message has no frames");
    expect(protocolErrorOf([header()])).toMatch(/^body is not valid JSON/);
  });

  it("refuses a first frame shorter than a header, and a body in a frame of its own", () => {
    expect(protocolErrorOf([header().subarray(0, 11)])).toBe("first frame is 11 bytes, shorter than the 12-byte header");
    expect(protocolErrorOf([Buffer.alloc(0)])).toBe("first frame is 0 bytes, shorter than the 12-byte header");
    // Version 1's layout (header and body in two frames) under this version's number.
    expect(protocolErrorOf([header(), body([1])])).toBe("header declares 0 attachment frame(s), message carries 1");
  });

  it("refuses an unknown version", () => {
    expect(protocolErrorOf([Buffer.concat([header({ version: 1 }), body([1])])])).toBe(`unsupported protocol version 1 (this side speaks ${PROTOCOL_VERSION})`);
    expect(protocolErrorOf([Buffer.concat([header({ version: PROTOCOL_VERSION + 1 }), body([1])])])).toMatch(/unsupported protocol version/);
    expect(protocolErrorOf([Buffer.concat([header({ version: 0 }), body([1])])])).toMatch(/unsupported protocol version 0/);
  });

  it("refuses an unknown kind", () => {
    expect(protocolErrorOf([Buffer.concat([header({ kind: 0 }), body([1])])])).toBe("unknown message kind 0");
    expect(protocolErrorOf([Buffer.concat([header({ kind: 255 }), body([1])])])).toBe("unknown message kind 255");
  });

  it("refuses a declared attachment count that differs from the frames carried", () => {
    expect(protocolErrorOf([Buffer.concat([header({ attachments: 2 }), body([0])]), bytes(1)])).toBe("header declares 2 attachment frame(s), message carries 1");
    expect(protocolErrorOf([Buffer.concat([header({ attachments: 0 }), body([0])]), bytes(1)])).toBe("header declares 0 attachment frame(s), message carries 1");
  });

  it("refuses a body that is not JSON", () => {
    expect(protocolErrorOf([Buffer.concat([header(), Buffer.from("[1,")])])).toMatch(/^body is not valid JSON \(.+\)$/);
    expect(protocolErrorOf([Buffer.concat([header(), Buffer.from("")])])).toMatch(/^body is not valid JSON/);
  });

  it("refuses a body that is not an array", () => {
    expect(protocolErrorOf([Buffer.concat([header(), body({ json: 1 })])])).toBe("body is not a JSON array");
    expect(protocolErrorOf([Buffer.concat([header(), body("x")])])).toBe("body is not a JSON array");
    expect(protocolErrorOf([Buffer.concat([header(), body(null)])])).toBe("body is not a JSON array");
  });

  it("refuses a call whose object id or member is not a string", () => {
    const call = header({ kind: KIND_CODES.call });
    expect(protocolErrorOf([Buffer.concat([call, body([1, "m", []])])])).toBe("object id (body[0]) must be a string");
    expect(protocolErrorOf([Buffer.concat([call, body(["o", null, []])])])).toBe("member (body[1]) must be a string");
  });

  it("refuses a call with a wrong number of items", () => {
    const call = header({ kind: KIND_CODES.call });
    expect(protocolErrorOf([Buffer.concat([call, body(["o", "m"])])])).toBe("body has 2 items, expected 3 or 4");
    expect(protocolErrorOf([Buffer.concat([call, body(["o", "m", [], {}, 5])])])).toBe("body has 5 items, expected 3 or 4");
  });

  it("refuses a get with a wrong body or attachments", () => {
    const get = (attachments = 0) => header({ kind: KIND_CODES.get, attachments });
    expect(protocolErrorOf([Buffer.concat([get(), body(["o"])])])).toBe("get body has 1 items, expected 2");
    expect(protocolErrorOf([Buffer.concat([get(), body(["o", "m", 1])])])).toBe("get body has 3 items, expected 2");
    expect(protocolErrorOf([Buffer.concat([get(), body(["o", 5])])])).toBe("member (body[1]) must be a string");
    expect(protocolErrorOf([Buffer.concat([get(1), body(["o", "m"])]), bytes(1)])).toBe("get carries no attachments");
  });

  it("refuses a set with a wrong body", () => {
    const set = header({ kind: KIND_CODES.set });
    expect(protocolErrorOf([Buffer.concat([set, body(["o", "m"])])])).toBe("body has 2 items, expected 3 or 4");
    expect(protocolErrorOf([Buffer.concat([set, body([{}, "m", 1])])])).toBe("object id (body[0]) must be a string");
  });

  it("refuses a result or error with a wrong number of items", () => {
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.result }), body([])])])).toBe("body has 0 items, expected 1 or 2");
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.error }), body([1, {}, 2])])])).toBe("body has 3 items, expected 1 or 2");
  });

  it("refuses annotations that are not an object", () => {
    for (const meta of [null, 1, "values", true]) {
      expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.result }), body([1, meta])])])).toBe("value annotations must be an object");
    }
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.call }), body(["o", "m", [], null])])])).toBe("value annotations must be an object");
  });

  it("refuses a heartbeat that carries data", () => {
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.heartbeat }), body([1])])])).toMatch(/heartbeat carries no data/);
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.heartbeat, attachments: 1 }), body([])]), bytes(1)])).toMatch(/heartbeat carries no data/);
  });
});

describe("decodeMessage errors of signal messages", () => {
  it("refuses a subscribe or unsubscribe with a wrong body or attachments", () => {
    const sub = header({ kind: KIND_CODES.subscribe });
    expect(protocolErrorOf([Buffer.concat([sub, body(["o"])])])).toBe("subscribe body has 1 items, expected 2");
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.unsubscribe }), body(["o", "s", 1])])])).toBe("unsubscribe body has 3 items, expected 2");
    expect(protocolErrorOf([Buffer.concat([sub, body(["o", 1])])])).toBe("signal (body[1]) must be a string");
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.subscribe, attachments: 1 }), body(["o", "s"])]), bytes(1)])).toBe("subscribe carries no attachments");
  });

  it("refuses an event whose dropped count is not a non-negative integer", () => {
    const event = header({ kind: KIND_CODES.event });
    for (const dropped of [-1, 1.5, "2", null]) {
      expect(protocolErrorOf([Buffer.concat([event, body(["o", "s", dropped, []])])])).toBe("dropped count (body[2]) must be a non-negative integer");
    }
    expect(protocolErrorOf([Buffer.concat([event, body(["o", "s", 0])])])).toBe("body has 3 items, expected 4 or 5");
  });

  it("refuses an ack that carries data", () => {
    expect(protocolErrorOf([Buffer.concat([header({ kind: KIND_CODES.ack }), body([1])])])).toBe("ack carries no data");
  });
});

describe("peeking and sizes", () => {
  it("peeks the correlation id without decoding", () => {
    expect(peekCorrelationId([header({ id: 123456 }), Buffer.from("not json")])).toBe(123456);
    expect(peekCorrelationId([header({ id: 0xffff_ffff })])).toBe(0xffff_ffff);
    expect(peekCorrelationId([header().subarray(0, 9)])).toBe(7);
    // Outgoing frames are strings: the same header read from its characters.
    expect(peekCorrelationId(encodeMessage({ kind: "result", id: 0x8000_0001, value: plain(1) }))).toBe(0x8000_0001);
  });

  it("peeks no correlation id in a header too short to hold one", () => {
    expect(peekCorrelationId([])).toBeUndefined();
    expect(peekCorrelationId([header().subarray(0, 8)])).toBeUndefined();
    const notDigits = header({ id: 5 });
    notDigits[6] = 0x90;
    expect(peekCorrelationId([notDigits])).toBeUndefined();
  });

  it("peeks the correlation id of a header that is a view at an offset", () => {
    const big = Buffer.concat([bytes(9, 9, 9), header({ id: 99 })]);
    expect(peekCorrelationId([big.subarray(3)])).toBe(99);
  });

  it("peeks the oneway flag of calls only", () => {
    const frames = (message: Message) => received(encodeMessage(message));
    expect(peekOneway(frames({ kind: "call", id: 1, oneway: true, object: "o", member: "m", args: plain([]) }))).toBe(true);
    expect(peekOneway(frames({ kind: "call", id: 1, oneway: false, object: "o", member: "m", args: plain([]) }))).toBe(false);
    // The flag bit means nothing on other kinds.
    expect(peekOneway([header({ kind: KIND_CODES.result, flags: 1 }), body([1])])).toBe(false);
    expect(peekOneway([header({ kind: KIND_CODES.call, flags: 1 }).subarray(0, 3)])).toBe(true);
    expect(peekOneway([header({ kind: KIND_CODES.call, flags: 1 }).subarray(0, 2)])).toBe(false);
    expect(peekOneway([])).toBe(false);
  });

  it("measures received and outgoing messages in bytes", () => {
    const message: Message = { kind: "result", id: 1, value: { ...annotated, value: { json: "é€", meta: annotated.value.meta } } };
    const out = encodeMessage(message);
    const expected = received(out).reduce((n, f) => n + f.length, 0);
    expect(outgoingSize(out)).toBe(expected);
    expect(messageSize(received(out))).toBe(expected);
    // Strings count as UTF-8 bytes, not characters.
    expect(outgoingSize(["é€"])).toBe(5);
    expect(messageSize([bytes(1, 2), bytes(), bytes(3)])).toBe(3);
    expect(outgoingSize([])).toBe(0);
  });
});
