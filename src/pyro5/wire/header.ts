/**
 * The 40-byte Pyro5 message header (struct '!4sHBBHHII16sHH', big-endian):
 * tag "PYRO", version 502, type u8, serializer u8, flags u16, seq u16, data length u32,
 * annotations length u32, correlation id 16 bytes, reserved u16, magic 0x4dc5.
 */
import { ProtocolError } from "../../errors.js";
import { CORRELATION_ID_SIZE, HEADER_SIZE, MAGIC, PYRO5_VERSION, TAG } from "./constants.js";

export interface Pyro5Header {
  readonly type: number;
  readonly serializerId: number;
  readonly flags: number;
  readonly seq: number;
  /** Payload bytes after the annotations (compressed size if compressed). */
  readonly dataLength: number;
  /** Total bytes of all annotation chunks. */
  readonly annotationsLength: number;
  /** The 16 correlation id bytes as on the wire (zeros when unused). */
  readonly correlationId: Buffer;
}

const ZERO_CORRELATION_ID = Buffer.alloc(CORRELATION_ID_SIZE);

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new ProtocolError(`Pyro5 header field ${name} must be an integer 0..${max}, got ${value}`);
}

/** Writes the header into `target` at `offset` (a fresh buffer when none is given). */
export function encodeHeader(header: Pyro5Header, target: Buffer = Buffer.allocUnsafe(HEADER_SIZE), offset = 0): Buffer {
  checkField("type", header.type, 0xff);
  checkField("serializer id", header.serializerId, 0xff);
  checkField("flags", header.flags, 0xffff);
  checkField("seq", header.seq, 0xffff);
  checkField("data length", header.dataLength, 0xffffffff);
  checkField("annotations length", header.annotationsLength, 0xffffffff);
  const correlationId = header.correlationId.length === 0 ? ZERO_CORRELATION_ID : header.correlationId;
  if (correlationId.length !== CORRELATION_ID_SIZE) throw new ProtocolError(`a Pyro5 correlation id has ${CORRELATION_ID_SIZE} bytes, got ${correlationId.length}`);
  TAG.copy(target, offset);
  target.writeUInt16BE(PYRO5_VERSION, offset + 4);
  target.writeUInt8(header.type, offset + 6);
  target.writeUInt8(header.serializerId, offset + 7);
  target.writeUInt16BE(header.flags, offset + 8);
  target.writeUInt16BE(header.seq, offset + 10);
  target.writeUInt32BE(header.dataLength, offset + 12);
  target.writeUInt32BE(header.annotationsLength, offset + 16);
  correlationId.copy(target, offset + 20);
  target.writeUInt16BE(0, offset + 36);
  target.writeUInt16BE(MAGIC, offset + 38);
  return target;
}

/**
 * Checks the first bytes of a message (fewer than a whole header is fine): the tag and the
 * version, as Pyro5 itself does after 6 bytes, so garbage is refused without waiting for 40.
 */
export function checkHeaderStart(bytes: Buffer): void {
  const tagBytes = Math.min(bytes.length, TAG.length);
  if (!bytes.subarray(0, tagBytes).equals(TAG.subarray(0, tagBytes))) {
    throw new ProtocolError(`not a Pyro5 message: it starts with 0x${bytes.subarray(0, 8).toString("hex")} instead of "PYRO"`);
  }
  if (bytes.length >= 6) {
    const version = bytes.readUInt16BE(4);
    if (version !== PYRO5_VERSION) {
      const hint = version === 48 ? " (48 is Pyro4's protocol)" : "";
      throw new ProtocolError(`unsupported Pyro protocol version ${version}${hint}, expected ${PYRO5_VERSION}`);
    }
  }
}

/** Reads and validates a header from the first 40 bytes of `bytes`; ProtocolError when they are not one. */
export function decodeHeader(bytes: Buffer): Pyro5Header {
  if (bytes.length < HEADER_SIZE) throw new ProtocolError(`a Pyro5 header has ${HEADER_SIZE} bytes, got ${bytes.length}`);
  checkHeaderStart(bytes);
  const magic = bytes.readUInt16BE(38);
  if (magic !== MAGIC) throw new ProtocolError(`bad Pyro5 magic number 0x${magic.toString(16).padStart(4, "0")}, expected 0x${MAGIC.toString(16)}`);
  return {
    type: bytes[6]!,
    serializerId: bytes[7]!,
    flags: bytes.readUInt16BE(8),
    seq: bytes.readUInt16BE(10),
    dataLength: bytes.readUInt32BE(12),
    annotationsLength: bytes.readUInt32BE(16),
    // A copy: the header may be a view into a large receive buffer that must not be kept alive.
    correlationId: Buffer.from(bytes.subarray(20, 20 + CORRELATION_ID_SIZE)),
  };
}
