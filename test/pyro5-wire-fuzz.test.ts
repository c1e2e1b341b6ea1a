/**
 * The pure Pyro5 wire codec (src/pyro5/wire), no I/O; the same codec against the real
 * Python Pyro5 is test/pyro5-wire-python.test.ts.
 * Here: random and mutated bytes through the reader and the decoders.
 */
import { describe, expect, it } from "vitest";
import { MessageTooLargeError, ProtocolError, SerializeError } from "../src/errors.js";
import { exceptionFromDict, exceptionFromWrapperDict, proxyFromDict, proxyToDict, uriFromDict, uriToDict } from "../src/pyro5/wire/class-dicts.js";
import { Flag, HEADER_SIZE } from "../src/pyro5/wire/constants.js";
import { PythonError } from "../src/pyro5/wire/python-error.js";
import { jsonSerializer } from "../src/pyro5/wire/serializer.js";
import { lossless, message, reader } from "./pyro5-wire-helpers.js";
import { prng } from "./seeded.js";

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
