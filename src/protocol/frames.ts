/**
 * Encoding and decoding of one message as ZeroMQ frames. Pure functions, no I/O.
 *
 *   frame 0  header, 12 bytes of 7-bit text (header.ts), then the body:
 *              0     version (2)
 *              1     kind code (message.ts KIND_CODES)
 *              2     flags: bit 0 = oneway, bit 1 = lock token first in the body (call, get, set)
 *              3     reserved, 0
 *              4-8   correlation id, five 7-bit digits
 *              9-11  number of attachment frames, three 7-bit digits
 *              12-   body: UTF-8 JSON array, its shape set by the kind (docs/protocol.md)
 *   frame 1… attachments: raw bytes of binary values referenced from the body
 *
 * Header and body share a frame, made as one string: each frame costs a native send and
 * receive on ZeroMQ (and a length and a view on TCP), and a small call has no other frame.
 *
 * A batch carries several messages in one ZeroMQ message: a 12-byte binary batch header
 * (kind 12, the number of messages in bytes 4-7, uint32 big-endian) followed by each
 * message's frames in turn; each message's own header tells how many attachment frames
 * follow its first.
 *
 * A ROUTER sees the peer's routing id in front of these frames; that is the transport's business.
 */
import { MessageTooLargeError, ProtocolError } from "../errors.js";
import { readUint32 as uint32 } from "../uint32.js";
import { HEADER_SIZE, headerText, MAX_ATTACHMENTS, readAttachments, readId } from "./header.js";
import { parseJsonArray } from "./json-array.js";
import { jsonText } from "./json-text.js";
import { isLockToken, KIND_CODES, NO_ATTACHMENTS, PROTOCOL_VERSION, type Message, type MessageKind, type Payload, type SerializedValue } from "./message.js";

export { HEADER_SIZE };
const FLAG_ONEWAY = 1;
const FLAG_LOCK = 2;
/** Kinds by wire code (an array: looked up for every message received). */
const KIND_BY_CODE: (MessageKind | undefined)[] = [];
for (const [kind, code] of Object.entries(KIND_CODES)) KIND_BY_CODE[code] = kind as MessageKind;

/** One frame as handed to the socket: strings are sent as UTF-8 without an extra copy here. */
export type OutFrame = Uint8Array | string;

/** A message's header, to which its body is appended: the first frame is one string. */
function header(kind: MessageKind, id: number, flags: number, attachments: number): string {
  if (attachments > MAX_ATTACHMENTS) throw new MessageTooLargeError(`a message carries at most ${MAX_ATTACHMENTS} binary values, not ${attachments}`);
  return headerText(PROTOCOL_VERSION, KIND_CODES[kind], flags, id >>> 0, attachments);
}

// A signal emission is encoded for every subscriber in a row: remembering the last value
// stringifies it once, without the garbage a cache of many entries would make per call.
let lastValue: SerializedValue | undefined;
let lastText = "";

function valueJson(value: SerializedValue): string {
  if (value !== lastValue) {
    // Omit meta when superjson had nothing to annotate: the common case stays plain JSON.
    lastText = value.meta === undefined ? jsonText(value.json ?? null) : `${jsonText(value.json ?? null)},${JSON.stringify(value.meta)}`;
    lastValue = value;
  }
  return lastText;
}

function withPayload(kind: MessageKind, id: number, flags: number, prefix: string, payload: Payload): OutFrame[] {
  const h = `${header(kind, id, flags, payload.attachments.length)}[${prefix}${valueJson(payload.value)}]`;
  return payload.attachments.length === 0 ? [h] : [h, ...payload.attachments];
}

/** Flag and body prefix of a request's lock token: nothing when it carries none. */
function lockFlag(lock: string | undefined): number {
  return lock === undefined ? 0 : FLAG_LOCK;
}

// A proxy calls the same member again and again: the JSON of the last request's target (lock
// token, object, member) is kept, as the last value above.
let lastLock: string | undefined;
let lastObject = "";
let lastMember = "";
let lastTarget = `"",""`;

/** The body's items before a request's value: its lock token when it carries one, object and member. */
function target(lock: string | undefined, object: string, member: string): string {
  if (lock !== lastLock || object !== lastObject || member !== lastMember) {
    lastTarget = `${lock === undefined ? "" : `${JSON.stringify(lock)},`}${JSON.stringify(object)},${JSON.stringify(member)}`;
    lastLock = lock;
    lastObject = object;
    lastMember = member;
  }
  return lastTarget;
}

/** Encodes a message into the frames a DEALER sends (or a ROUTER sends after the routing id). */
export function encodeMessage(message: Message): OutFrame[] {
  switch (message.kind) {
    case "call":
      return withPayload("call", message.id, (message.oneway ? FLAG_ONEWAY : 0) | lockFlag(message.lock), `${target(message.lock, message.object, message.member)},`, message.args);
    case "get":
      return [`${header("get", message.id, lockFlag(message.lock), 0)}[${target(message.lock, message.object, message.member)}]`];
    case "set":
      return withPayload("set", message.id, lockFlag(message.lock), `${target(message.lock, message.object, message.member)},`, message.value);
    case "result":
    case "error":
      return withPayload(message.kind, message.id, 0, "", message.value);
    case "heartbeat":
      return [`${header("heartbeat", 0, 0, 0)}[]`];
    case "ack":
      return [`${header("ack", message.id, 0, 0)}[]`];
    case "reset":
      return [`${header("reset", 0, 0, 0)}[]`];
    case "subscribe":
    case "unsubscribe":
      return [`${header(message.kind, message.id, 0, 0)}${JSON.stringify([message.object, message.signal])}`];
    case "event":
      return withPayload("event", message.id, 0, `${JSON.stringify(message.object)},${JSON.stringify(message.signal)},${message.dropped},`, message.args);
    case "stream":
      return [`${header("stream", message.id, 0, 0)}[${message.window},${message.windowBytes}]`];
    case "item":
      return withPayload("item", message.id, 0, "", message.value);
    case "credit":
      return [`${header("credit", message.id, 0, 0)}[${message.items}]`];
    case "cancel":
      return [`${header("cancel", message.id, 0, 0)}[]`];
    case "received":
      return [`${header("received", 0, 0, 0)}[${message.bytes},${message.messages}]`];
  }
}

/** Wire code of a batch header (see the top of this file); not a message kind of its own. */
export const BATCH_CODE = 12;
const MAX_BATCH = 65_536;

/** One ZeroMQ message carrying several messages, in order. */
export function encodeBatch(messages: readonly OutFrame[][]): OutFrame[] {
  const h = Buffer.alloc(HEADER_SIZE);
  h[0] = PROTOCOL_VERSION;
  h[1] = BATCH_CODE;
  h.writeUInt32BE(messages.length, 4);
  const frames: OutFrame[] = [h];
  for (const message of messages) for (const frame of message) frames.push(frame);
  return frames;
}

/** Whether a message's first frame is a batch header. */
export function isBatch(frames: readonly Uint8Array[]): boolean {
  const h = frames[0];
  return !!h && h.length === HEADER_SIZE && h[0] === PROTOCOL_VERSION && h[1] === BATCH_CODE;
}

/** The messages of a batch; throws ProtocolError when its frames do not add up. */
export function splitBatch<F extends Uint8Array>(frames: readonly F[]): F[][] {
  const h = frames[0]!;
  const count = uint32(h, 4);
  if (count < 1 || count > MAX_BATCH) bad(`batch of ${count} messages (1-${MAX_BATCH} allowed)`);
  const messages: F[][] = [];
  let i = 1;
  for (let m = 0; m < count; m++) {
    const header = frames[i];
    if (!header || header.length < HEADER_SIZE) bad(`batch message ${m + 1} of ${count} is missing or truncated`);
    if (header[1] === BATCH_CODE) bad("a batch cannot contain a batch");
    const attachments = readAttachments(header);
    if (attachments < 0) bad(`batch message ${m + 1} of ${count} has an attachment count that is not 7-bit digits`);
    const end = i + 1 + attachments;
    if (end > frames.length) bad(`batch message ${m + 1} declares ${attachments} attachment frame(s) the batch does not carry`);
    messages.push(frames.slice(i, end));
    i = end;
  }
  if (i !== frames.length) bad(`batch carries ${frames.length - i} frame(s) beyond its ${count} message(s)`);
  return messages;
}

/** Correlation id of a message whose header is long enough to hold a valid one, else undefined. */
export function peekCorrelationId(frames: readonly OutFrame[]): number | undefined {
  const h = frames[0];
  if (h === undefined) return undefined;
  // Outgoing frames are strings of 7-bit characters (their bytes), received ones bytes.
  const id = readId(typeof h === "string" ? Buffer.from(h.slice(0, HEADER_SIZE), "latin1") : h);
  return id < 0 ? undefined : id;
}

/** Whether a header, however broken the rest, says the message is a result or an error. */
export function isReplyHeader(header: Uint8Array | undefined): boolean {
  return !!header && header.length >= 2 && (header[1] === KIND_CODES.result || header[1] === KIND_CODES.error);
}

/** Whether a message's header marks it oneway (no reply must be sent, even an error). */
export function peekOneway(frames: readonly Uint8Array[]): boolean {
  const h = frames[0];
  return !!h && h.length >= 3 && h[1] === KIND_CODES.call && (h[2]! & FLAG_ONEWAY) !== 0;
}

/** Total size in bytes of a message's frames. */
export function messageSize(frames: readonly Uint8Array[]): number {
  let size = 0;
  for (const f of frames) size += f.length;
  return size;
}

/** Size in bytes of frames about to be sent. */
export function outgoingSize(frames: readonly OutFrame[]): number {
  let size = 0;
  for (const f of frames) size += typeof f === "string" ? Buffer.byteLength(f) : f.length;
  return size;
}

/** Whether frames exceed `max` bytes; skips measuring UTF-8 when the string lengths alone settle it. */
export function exceedsSize(frames: readonly OutFrame[], max: number): boolean {
  let bound = 0;
  for (const f of frames) bound += typeof f === "string" ? f.length * 3 : f.length;
  return bound > max && outgoingSize(frames) > max;
}

function bad(problem: string): never {
  throw new ProtocolError(problem);
}

/** Both transports hand over Buffers: read them as they are, without another view. */
function asBuffer(frame: Uint8Array): Buffer {
  return frame instanceof Buffer ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** The body after the header in a message's first frame; its first `names` items are names (json-array.ts). */
function parseBody(frame: Uint8Array, names: number): unknown[] {
  const bytes = asBuffer(frame);
  const plain = parseJsonArray(bytes, HEADER_SIZE, names);
  if (plain !== undefined) return plain;
  let body: unknown;
  try {
    // No encoding named: UTF-8, without looking the name up.
    body = JSON.parse(bytes.toString(undefined, HEADER_SIZE));
  } catch (error) {
    bad(`body is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(body)) bad("body is not a JSON array");
  return body;
}

function string(body: unknown[], index: number, what: string): string {
  const v = body[index];
  if (typeof v !== "string") bad(`${what} (body[${index}]) must be a string`);
  return v;
}

/** An integer from `min` to 2^32-1 (counters and windows). */
function count(body: unknown[], index: number, what: string, min: number): number {
  const v = body[index];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > 0xffff_ffff) bad(`${what} (body[${index}]) must be an integer from ${min} to 4294967295`);
  return v;
}

function noAttachments(kind: string, attachments: readonly Uint8Array[]): void {
  if (attachments.length !== 0) bad(`${kind} carries no attachments`);
}

function lockToken(body: unknown[]): string {
  const v = body[0];
  if (!isLockToken(v)) bad("lock token (body[0]) must be a string of 16-64 characters A-Z a-z 0-9 _ -");
  return v;
}

function payload(body: unknown[], index: number, attachments: readonly Uint8Array[]): Payload {
  if (body.length !== index + 1 && body.length !== index + 2) bad(`body has ${body.length} items, expected ${index + 1} or ${index + 2}`);
  const meta = body[index + 1];
  if (body.length === index + 2 && (meta === null || typeof meta !== "object")) bad("value annotations must be an object");
  return { value: body.length === index + 2 ? { json: body[index], meta } : { json: body[index] }, attachments };
}

/** Decodes the frames of one message (without routing id); throws ProtocolError naming the problem. */
export function decodeMessage(frames: readonly Uint8Array[]): Message {
  const h = frames[0];
  if (!h) bad("message has no frames");
  if (h.length < HEADER_SIZE) bad(`first frame is ${h.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  if (h[0] !== PROTOCOL_VERSION) bad(`unsupported protocol version ${h[0]} (this side speaks ${PROTOCOL_VERSION})`);
  const kind = KIND_BY_CODE[h[1]!];
  if (kind === undefined) bad(`unknown message kind ${h[1]}`);
  const id = readId(h);
  if (id < 0) bad("the correlation id (header bytes 4-8) is not a uint32 in five 7-bit digits");
  const declared = readAttachments(h);
  if (declared < 0) bad("the attachment count (header bytes 9-11) is not three 7-bit digits");
  if (declared !== frames.length - 1) bad(`header declares ${declared} attachment frame(s), message carries ${frames.length - 1}`);
  const attachments = declared === 0 ? NO_ATTACHMENTS : frames.slice(1);
  // Requests that carry a lock token have it first; the other items follow at offset 1.
  const request = kind === "call" || kind === "get" || kind === "set";
  const locked = (h[2]! & FLAG_LOCK) !== 0 && request;
  const o = locked ? 1 : 0;
  // Names lead the bodies of requests (lock token, object, member), subscriptions and events (object, signal).
  const body = parseBody(h, request ? o + 2 : kind === "subscribe" || kind === "unsubscribe" || kind === "event" ? 2 : 0);
  // Set on every request, undefined when it has none: one object shape whatever the flags.
  const lock = locked ? lockToken(body) : undefined;
  switch (kind) {
    case "call":
      return { kind, id, oneway: (h[2]! & FLAG_ONEWAY) !== 0, object: string(body, o, "object id"), member: string(body, o + 1, "member"), args: payload(body, o + 2, attachments), lock };
    case "get":
      if (body.length !== o + 2) bad(`get body has ${body.length} items, expected ${o + 2}`);
      if (attachments.length !== 0) bad("get carries no attachments");
      return { kind, id, object: string(body, o, "object id"), member: string(body, o + 1, "member"), lock };
    case "set":
      return { kind, id, object: string(body, o, "object id"), member: string(body, o + 1, "member"), value: payload(body, o + 2, attachments), lock };
    case "result":
    case "error":
      return { kind, id, value: payload(body, 0, attachments) };
    case "heartbeat":
    case "reset":
    case "ack":
      if (body.length !== 0 || attachments.length !== 0) bad(`${kind} carries no data`);
      return kind === "ack" ? { kind, id } : { kind, id: 0 };
    case "subscribe":
    case "unsubscribe":
      if (body.length !== 2) bad(`${kind} body has ${body.length} items, expected 2`);
      if (attachments.length !== 0) bad(`${kind} carries no attachments`);
      return { kind, id, object: string(body, 0, "object id"), signal: string(body, 1, "signal") };
    case "item":
      return { kind, id, value: payload(body, 0, attachments) };
    case "stream":
      noAttachments(kind, attachments);
      if (body.length !== 2) bad(`stream body has ${body.length} items, expected 2`);
      return { kind, id, window: count(body, 0, "window", 1), windowBytes: count(body, 1, "window bytes", 1) };
    case "credit":
      noAttachments(kind, attachments);
      if (body.length !== 1) bad(`credit body has ${body.length} items, expected 1`);
      return { kind, id, items: count(body, 0, "items", 1) };
    case "cancel":
      if (body.length !== 0 || attachments.length !== 0) bad("cancel carries no data");
      return { kind, id };
    case "received":
      noAttachments(kind, attachments);
      if (body.length !== 2) bad(`received body has ${body.length} items, expected 2`);
      return { kind, id: 0, bytes: count(body, 0, "bytes", 0), messages: count(body, 1, "messages", 0) };
    case "event": {
      const dropped = body[2];
      if (typeof dropped !== "number" || !Number.isInteger(dropped) || dropped < 0) bad("dropped count (body[2]) must be a non-negative integer");
      return { kind, id, object: string(body, 0, "object id"), signal: string(body, 1, "signal"), dropped, args: payload(body, 3, attachments) };
    }
  }
}
