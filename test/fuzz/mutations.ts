/** Mutations of the fuzz test (fuzz.test.ts): what is done to valid messages and batches before they are sent. */
import { DAEMON_OBJECT_ID } from "../../src/index.js";
import { BATCH_CODE, encodeBatch, encodeMessage, HEADER_SIZE } from "../../src/protocol/frames.js";
import { readAttachments } from "../../src/protocol/header.js";
import { KIND_CODES, PROTOCOL_VERSION } from "../../src/protocol/message.js";
import { writeDigits } from "../garbage/wire.js";
import { LASER } from "./config.js";
import type { Rng } from "./rng.js";
import { toBuffers, type Frames } from "./valid-messages.js";

/** JSON texts of values of every type, for "wrong types in every position". Parsed, so `__proto__` keys are own keys. */
const WRONG_VALUES: readonly string[] = [
  "null", "true", "false", "0", "-1", "1.5", "1e308", "-1e308", "9007199254740993", "4294967296",
  `""`, `"x"`, `"__proto__"`, `"constructor"`, `"prototype"`, `"laser"`, `"pyro-ts.Daemon"`, `"pyro-ts.NameServer"`, `"\\u0000"`, `"\\ud800"`,
  "[]", "[[]]", "[null]", "{}", `{"length":1000000000}`, `{"0":1,"length":1}`,
  `{"__proto__":{"polluted":true}}`, `{"constructor":{"prototype":{"polluted":true}}}`, `{"prototype":{"polluted":true}}`,
  `{"then":1}`, `{"toString":1,"valueOf":2}`, `["__proto__","polluted"]`,
];

const PROTO_PATHS = ["0.__proto__.polluted", "0.constructor.prototype.polluted", "__proto__.polluted", "0.prototype.polluted", "__proto__", "constructor", "0.a.__proto__"];
const META_TYPES: readonly unknown[] = [
  "undefined", "bigint", "Date", "regexp", "set", "map", "number", "Error", "URL", "symbol", "weird", 5, null, [], {},
  ["class", "Object"], ["class", "Laser"], ["class", "__proto__"], ["symbol", "x"],
  ["custom", "Buffer"], ["custom", "Float64Array"], ["custom", "BigInt64Array"], ["custom", "DataView"], ["custom", "ArrayBuffer"], ["custom", "Nope"], ["custom", "__proto__"],
];

function randomMeta(r: Rng): unknown {
  const path = (): string => r.weighted<string>([[4, r.pick(["0", "0.a", "0.0", "1", "0.0.0", "a"])], [2, r.pick(PROTO_PATHS)], [1, r.string()]]);
  const type = (): unknown => (r.chance(0.8) ? r.pick(META_TYPES) : [r.pick(META_TYPES), { [path()]: r.pick(META_TYPES) }]);
  switch (r.int(6)) {
    case 0: return { values: { [path()]: [type()] } };
    case 1: return { values: [type(), { [path()]: [type()] }] };
    case 2: return { referentialEqualities: { [path()]: [path(), path()] } };
    case 3: return { referentialEqualities: [[path()], { [path()]: [path()] }] };
    case 4: return { values: Object.fromEntries(Array.from({ length: 1 + r.int(4) }, () => [path(), [type()]])), v: r.int(3) };
    default: return JSON.parse(r.pick([`{"values":{"__proto__":{"polluted":["undefined"]}}}`, `{"__proto__":{"values":{"0":["set"]}}}`, `{"values":"0"}`, `{"values":null}`, `[]`, `{}`]));
  }
}

/** The index of the value/args item in a body of this kind, or undefined (no payload). */
function payloadIndex(kind: number): number | undefined {
  return kind === KIND_CODES.call || kind === KIND_CODES.set ? 2 : kind === KIND_CODES.result || kind === KIND_CODES.error ? 0 : kind === KIND_CODES.event ? 3 : undefined;
}

/** The body after the header in a message's first frame, parsed; undefined when it is no JSON array. */
function parseBody(frames: Frames): unknown[] | undefined {
  const frame = frames[0];
  if (!frame || frame.length < HEADER_SIZE) return undefined;
  try {
    const body: unknown = JSON.parse(frame.toString("utf8", HEADER_SIZE));
    return Array.isArray(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

function writeBody(frames: Frames, body: unknown): Frames {
  let text: string;
  try {
    text = typeof body === "string" ? body : JSON.stringify(body);
  } catch {
    return frames; // too deep to stringify (an earlier mutation nested it): leave it as it was
  }
  const out = frames.slice();
  out[0] = Buffer.concat([headerOf(frames), Buffer.from(text, "utf8")]);
  return out;
}

/** The header part of a message's first frame (all of it when it is shorter than a header). */
function headerOf(frames: Frames): Buffer {
  return (frames[0] ?? Buffer.alloc(HEADER_SIZE)).subarray(0, HEADER_SIZE);
}

function setAttachmentCount(frames: Frames): void {
  const h = frames[0];
  if (h && h.length >= HEADER_SIZE) writeDigits(h, Math.max(0, frames.length - 1), 9, 3);
}

function withHeader(frames: Frames, edit: (h: Buffer) => void): Frames {
  const out = frames.slice();
  const h = Buffer.from(out[0] ?? Buffer.alloc(HEADER_SIZE));
  if (h.length >= HEADER_SIZE) edit(h);
  out[0] = h;
  return out;
}

/** A copy of `frame` with `count` bits flipped from byte `from` up to byte `to` (its end by default). */
function flipBits(r: Rng, frame: Buffer, count: number, from = 0, to = frame.length): Buffer {
  const b = Buffer.from(frame);
  to = Math.min(to, b.length);
  if (to <= from) return b;
  for (let i = 0; i < count; i++) {
    const at = from + r.int(to - from);
    b[at] = b[at]! ^ (1 << r.int(8));
  }
  return b;
}

/** Walks to a random node of a parsed JSON tree and replaces it. */
function replaceRandomNode(r: Rng, root: unknown[], make: () => unknown): void {
  let container: unknown[] | Record<string, unknown> = root;
  for (let depth = 0; depth < 6; depth++) {
    const keys = Array.isArray(container) ? container.map((_, i) => i) : Object.keys(container);
    if (keys.length === 0) break;
    const key = r.pick(keys as (string | number)[]);
    const child = (container as Record<string | number, unknown>)[key];
    if (child !== null && typeof child === "object" && r.chance(0.5)) {
      container = child as unknown[] | Record<string, unknown>;
      continue;
    }
    (container as Record<string | number, unknown>)[key] = make();
    return;
  }
  if (Array.isArray(container)) container.push(make());
  else container[r.pick(["__proto__", "constructor", "prototype", "a"])] = make();
}

function deepText(r: Rng): string {
  const depth = r.pick([64, 1000, 10_000]);
  switch (r.int(5)) {
    case 0: return `${"[".repeat(depth)}${"]".repeat(depth)}`;
    case 1: return `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    case 2: return `${'[{"__proto__":'.repeat(Math.min(depth, 10_000))}1${"}]".repeat(Math.min(depth, 10_000))}`;
    case 3: return "[".repeat(depth); // never closed
    default: return `${"[".repeat(depth)}1${"]".repeat(depth - 1)}`; // one short
  }
}

/** The object id and member of a body, as JSON text, for bodies rebuilt around them. */
function headOf(frames: Frames): string {
  const body = parseBody(frames);
  const object = typeof body?.[0] === "string" ? body[0] : LASER;
  const member = typeof body?.[1] === "string" ? body[1] : "echo";
  return `${JSON.stringify(object)},${JSON.stringify(member)}`;
}

type Mutator = (r: Rng, frames: Frames) => Frames;

const MUTATORS: readonly (readonly [number, string, Mutator])[] = [
  [8, "flip-header", (r, f) => [flipBits(r, f[0]!, 1 + r.int(3), 0, HEADER_SIZE), ...f.slice(1)]],
  [10, "flip-body", (r, f) => [flipBits(r, f[0]!, 1 + r.int(8), HEADER_SIZE), ...f.slice(1)]],
  [4, "flip-any", (r, f) => f.map((frame) => (r.chance(0.5) ? flipBits(r, frame, 1 + r.int(4)) : frame))],
  [6, "truncate", (r, f) => {
    const i = r.int(f.length);
    const out = f.slice();
    out[i] = out[i]!.subarray(0, r.int(out[i]!.length + 1));
    return out;
  }],
  [4, "drop-frame", (r, f) => {
    const i = r.int(f.length);
    return f.length > 1 ? f.filter((_, j) => j !== i) : f;
  }],
  [3, "duplicate-frame", (r, f) => {
    const i = r.int(f.length);
    return [...f.slice(0, i + 1), f[i]!, ...f.slice(i + 1)];
  }],
  [3, "extra-frames", (r, f) => [...f, ...Array.from({ length: 1 + r.int(3) }, () => r.bytes(r.int(32)))]],
  [2, "swap-frames", (_r, f) => (f.length > 1 ? [f[1]!, f[0]!, ...f.slice(2)] : f)],
  // Any version but this one (version 1 sent header and body as two frames).
  [3, "version", (r, f) => withHeader(f, (h) => (h[0] = r.pick([0, PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1, 255, (PROTOCOL_VERSION + 1 + r.int(255)) % 256])))],
  [6, "kind", (r, f) => withHeader(f, (h) => (h[1] = r.weighted<number>([[6, r.int(14)], [3, BATCH_CODE], [1, 255]])))],
  [5, "oneway-flag", (r, f) => withHeader(f, (h) => (h[2] = r.weighted<number>([[6, h[2]! ^ 1], [1, r.int(256)]])))],
  [1, "reserved", (r, f) => withHeader(f, (h) => (h[3] = 1 + r.int(255)))],
  [3, "huge-id", (r, f) => withHeader(f, (h) => writeDigits(h, r.pick([0, 0xffffffff, 0x80000000, 0x7fffffff, 2 ** 32, 2 ** 35 - 1]), 4, 5))],
  // Header numbers are 7-bit digits: a byte with its top bit set is none.
  [2, "high-bit", (r, f) => withHeader(f, (h) => (h[4 + r.int(8)] |= 0x80))],
  [4, "attachment-count", (r, f) => withHeader(f, (h) => {
    const declared = Math.max(0, readAttachments(h));
    writeDigits(h, r.pick([2 ** 21 - 1, 2 ** 20, 65_536, declared + 1, Math.max(0, declared - 1)]), 9, 3);
  })],
  // Bytes between header and body, or a first frame cut inside its header.
  [2, "header-length", (r, f) => [r.chance(0.5) ? Buffer.concat([headerOf(f), r.bytes(1 + r.int(8)), f[0]!.subarray(HEADER_SIZE)]) : f[0]!.subarray(0, r.int(HEADER_SIZE)), ...f.slice(1)]],
  [1.5, "deep-nesting", (r, f) => {
    const head = headOf(f);
    const deep = deepText(r);
    switch (r.int(4)) {
      case 0: return writeBody(f, `[${head},[${deep}]]`);
      case 1: return writeBody(f, `[${head},[1],{"values":{"0":${deep}}}]`);
      case 2: return writeBody(f, `[${head},${deep}]`);
      default: return writeBody(f, deep);
    }
  }],
  [5, "proto-keys", (r, f) => {
    const head = headOf(f);
    const templates = [
      `[${head},[{"__proto__":{"polluted":1}}]]`,
      `[${head},[{}],{"values":{"${r.pick(PROTO_PATHS)}":["undefined"]}}]`,
      `[${head},[{"a":{}}],{"referentialEqualities":{"0.a":["${r.pick(PROTO_PATHS)}"]}}]`,
      `[${head},[{"constructor":{"prototype":{"polluted":1}}}]]`,
      `[${head},[[["__proto__",{"polluted":1}]]],{"values":{"0":["map"]}}]`,
      `[${head},[{}],{"values":{"__proto__":{"polluted":["undefined"]}}}]`,
      `[${head},[["__proto__"]],{"values":{"0":["set"]}}]`,
      `[${head},[{"__proto__":{"safe":true,"metadata":["x"],"prefix":"fz","polluted":1}}]]`,
      `[${head},["fz.1",{"__proto__":{"returnMetadata":true}}]]`,
      `[${head},[{"__proto__":[]}],{"values":{"0.__proto__":["set"]}}]`,
      `["__proto__","__proto__",[]]`,
      `["constructor","prototype",[{"polluted":1}]]`,
      `[${head},{"__proto__":{"polluted":1}},{"values":{"__proto__.polluted":["undefined"]}}]`,
    ];
    return writeBody(f, r.pick(templates));
  }],
  [10, "wrong-type", (r, f) => {
    const body = parseBody(f);
    if (!body) return f;
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) {
      if (r.chance(0.4) && body.length > 0) body[r.int(body.length)] = JSON.parse(r.pick(WRONG_VALUES));
      else replaceRandomNode(r, body, () => JSON.parse(r.pick(WRONG_VALUES)));
    }
    return writeBody(f, body);
  }],
  [6, "annotations", (r, f) => {
    const body = parseBody(f);
    const index = payloadIndex(f[0]?.[1] ?? KIND_CODES.call) ?? 2;
    if (!body) return f;
    while (body.length <= index) body.push(r.int(3));
    body.length = index + 1;
    if (r.chance(0.5)) body[index] = [r.int(3), r.int(3), { a: r.int(3) }];
    body.push(randomMeta(r));
    let out = writeBody(f, body);
    if (r.chance(0.5)) {
      out = [out[0]!, ...Array.from({ length: 1 + r.int(3) }, () => r.bytes(r.pick([0, 1, 3, 8, 16])))];
      setAttachmentCount(out);
    }
    return out;
  }],
  [2, "huge-string", (r, f) => {
    const body = parseBody(f);
    if (!body) return f;
    const huge = r.pick(["x", "\u{1F600}", "\\", "\u0000"]).repeat(r.pick([1000, 10_000, 20_000]));
    body[r.int(Math.max(1, body.length))] = r.chance(0.5) ? huge : [huge];
    return writeBody(f, body);
  }],
  [3, "body-items", (r, f) => {
    const body = parseBody(f);
    if (!body) return f;
    if (r.chance(0.5)) body.push(...Array.from({ length: 1 + r.int(3) }, () => JSON.parse(r.pick(WRONG_VALUES))));
    else body.length = r.int(body.length + 1);
    return writeBody(f, body);
  }],
  [3, "garbage-body", (r, f) => writeBody(f, r.pick([r.bytes(r.int(64)), Buffer.from(""), Buffer.from("\u0000"), Buffer.from([0xff, 0xfe, 0x5b]), Buffer.from("[1,]"), Buffer.from("{}"), Buffer.from("null")]).toString("latin1"))],
  [0.15, "oversize-total", (r, f) => {
    const out = [f[0]!, ...Array.from({ length: 3 }, () => Buffer.alloc(100 * 1024, r.int(256)))];
    setAttachmentCount(out);
    return out;
  }],
];

export function mutate(r: Rng, frames: Frames, applied: string[]): Frames {
  let out = frames;
  const n = r.weighted<number>([[6, 1], [3, 2], [1, 3]]);
  for (let i = 0; i < n; i++) {
    const [, name, mutator] = r.weighted(MUTATORS.map((m) => [m[0], m] as const));
    out = mutator(r, out);
    if (out.length === 0) out = [Buffer.alloc(0)];
    applied.push(name);
  }
  return out;
}

/** A batch of valid or mutated messages, and sometimes a broken batch header or layout. */
export function batchOf(r: Rng, inner: Frames[], applied: string[]): Frames {
  let frames = toBuffers(encodeBatch(inner));
  if (r.chance(0.4)) {
    const how = r.int(6);
    applied.push(`batch-${["count", "nested", "trailing", "drop", "flip", "header"][how]}`);
    switch (how) {
      case 0: frames[0]!.writeUInt32BE(r.pick([0, 1, inner.length - 1, inner.length + 1, 65_536, 65_537, 0xffffffff]), 4); break;
      case 1: frames = [...frames, ...toBuffers(encodeBatch([inner[0]!]))]; frames[0]!.writeUInt32BE(inner.length + 1, 4); break;
      case 2: frames.push(r.bytes(r.int(16))); break;
      case 3: frames.splice(1 + r.int(frames.length - 1), 1); break;
      case 4: frames[0] = flipBits(r, frames[0]!, 1 + r.int(2)); break;
      default: frames[0]!.writeUInt32BE(r.int(5), 8); frames[0]![2] = r.int(4); break;
    }
  }
  return frames;
}

/** The largest batch the protocol allows (65,536 messages), of heartbeats, acks and some pings; sometimes one message too many. */
export function maxBatch(r: Rng, applied: string[]): Frames {
  const ping = toBuffers(encodeMessage({ kind: "call", id: 0, oneway: false, object: DAEMON_OBJECT_ID, member: "ping", args: { value: { json: [] }, attachments: [] }, lock: undefined }))[0]!;
  const messages = Array.from({ length: 65_536 }, (_, i): Frames => {
    switch (r.int(10)) {
      case 0: case 1: case 2: case 3: case 4: return toBuffers(encodeMessage({ kind: "heartbeat", id: 0 }));
      case 5: case 6: case 7: case 8: return toBuffers(encodeMessage({ kind: "ack", id: i }));
      default: {
        const call = Buffer.from(ping);
        writeDigits(call, i + 1, 4, 5);
        return [call];
      }
    }
  });
  const frames = toBuffers(encodeBatch(messages));
  applied.push("max-batch");
  if (r.chance(0.3)) {
    applied.push("batch-count");
    frames[0]!.writeUInt32BE(65_537, 4);
  }
  return frames;
}
