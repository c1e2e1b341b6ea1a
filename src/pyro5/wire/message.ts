/**
 * A whole Pyro5 message: header, annotation chunks (4 ASCII id chars, u32 length, raw bytes),
 * payload. Encoding is here; incremental decoding of a byte stream is in message-reader.ts.
 */
import { deflateSync } from "node:zlib";
import { MessageTooLargeError, ProtocolError } from "../../errors.js";
import { ANNOTATION_HEADER_SIZE, Flag, HEADER_SIZE } from "./constants.js";
import { encodeHeader } from "./header.js";

export interface Pyro5Message {
  /** MessageType value (unknown types are the reader's ProtocolError). */
  readonly type: number;
  readonly serializerId: number;
  /** As on the wire, except Flag.compressed: cleared once inflated. */
  readonly flags: number;
  /** u16. */
  readonly seq: number;
  /** 16 bytes, present iff Flag.correlationId. */
  readonly correlationId?: Buffer;
  /** 4-ASCII-char ids. */
  readonly annotations: ReadonlyMap<string, Buffer>;
  /** Inflated if it came compressed. */
  readonly payload: Buffer;
}

export interface OutgoingPyro5Message {
  readonly type: number;
  readonly serializerId: number;
  /** Flag.compressed here makes the payload go deflated (zlib level 4, as Pyro5 does). */
  readonly flags?: number;
  readonly seq: number;
  readonly correlationId?: Buffer;
  readonly annotations?: ReadonlyMap<string, Buffer>;
  /** A string goes as UTF-8. */
  readonly payload: Buffer | string;
}

const EMPTY = Buffer.alloc(0);
const NO_ANNOTATIONS: ReadonlyMap<string, Buffer> = new Map();
const MAX_U32 = 0xffffffff;
/** Pyro5's compression level (Pyro5/protocol.py: zlib.compress(payload, 4)). */
const COMPRESSION_LEVEL = 4;

/** Whether `id` can name an annotation: exactly 4 ASCII characters. */
export function isAnnotationId(id: string): boolean {
  return id.length === 4 && /^[\x00-\x7f]{4}$/.test(id);
}

/** Header + annotations + payload as one Buffer (sets/clears Flag.correlationId from correlationId). */
export function encodePyro5Message(message: OutgoingPyro5Message): Buffer {
  const annotations = message.annotations ?? NO_ANNOTATIONS;
  let annotationsLength = 0;
  for (const [id, value] of annotations) {
    if (!isAnnotationId(id)) throw new ProtocolError(`a Pyro5 annotation id is exactly 4 ASCII characters, got ${JSON.stringify(id)}`);
    if (!(value instanceof Uint8Array)) throw new ProtocolError(`the Pyro5 annotation ${id} must be bytes`);
    annotationsLength += ANNOTATION_HEADER_SIZE + value.byteLength;
  }
  let flags = (message.flags ?? 0) & ~Flag.correlationId;
  if (message.correlationId !== undefined) flags |= Flag.correlationId;
  let payload: Buffer | string = message.payload;
  if (flags & Flag.compressed) payload = deflateSync(typeof payload === "string" ? Buffer.from(payload, "utf8") : payload, { level: COMPRESSION_LEVEL });
  const dataLength = typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length;
  if (dataLength > MAX_U32 || annotationsLength > MAX_U32) throw new MessageTooLargeError(`a Pyro5 message carries at most ${MAX_U32} bytes of payload and of annotations`);

  const out = Buffer.allocUnsafe(HEADER_SIZE + annotationsLength + dataLength);
  encodeHeader({ type: message.type, serializerId: message.serializerId, flags, seq: message.seq, dataLength, annotationsLength, correlationId: message.correlationId ?? EMPTY }, out, 0);
  let at = HEADER_SIZE;
  for (const [id, value] of annotations) {
    at += out.write(id, at, "latin1");
    at = out.writeUInt32BE(value.byteLength, at);
    at += Buffer.from(value.buffer, value.byteOffset, value.byteLength).copy(out, at);
  }
  if (typeof payload === "string") out.write(payload, at, "utf8");
  else payload.copy(out, at);
  return out;
}

/**
 * Splits the annotation section into its chunks; ProtocolError when a chunk overruns it or
 * an id is not ASCII. The values are views into `section`. A repeated id keeps the last value, as in Pyro5.
 */
export function decodeAnnotations(section: Buffer): Map<string, Buffer> {
  const annotations = new Map<string, Buffer>();
  let at = 0;
  while (at < section.length) {
    if (section.length - at < ANNOTATION_HEADER_SIZE) {
      throw new ProtocolError(`a Pyro5 annotation chunk header overruns the annotations (${section.length - at} of ${ANNOTATION_HEADER_SIZE} bytes left)`);
    }
    const idBytes = section.subarray(at, at + 4);
    if (idBytes.some((byte) => byte > 0x7f)) throw new ProtocolError(`a Pyro5 annotation id is not ASCII: 0x${idBytes.toString("hex")}`);
    const id = idBytes.toString("latin1");
    const length = section.readUInt32BE(at + 4);
    at += ANNOTATION_HEADER_SIZE;
    if (length > section.length - at) {
      throw new ProtocolError(`the Pyro5 annotation ${JSON.stringify(id)} claims ${length} bytes but only ${section.length - at} remain in the annotations`);
    }
    annotations.set(id, section.subarray(at, at + length));
    at += length;
  }
  return annotations;
}
