/**
 * Turns the bytes of a Pyro5 stream back into messages. Pure, no I/O.
 *
 * Lengths are checked from the header before anything is allocated for the body; the bytes
 * wait in a ByteQueue (a body lying in one received chunk is a view, not a copy; one spread
 * over many is joined once).
 */
import { inflateSync } from "node:zlib";
import { ByteQueue } from "../../byte-queue.js";
import { MessageTooLargeError, ProtocolError } from "../../errors.js";
import { Flag, HEADER_SIZE, isMessageType } from "./constants.js";
import { checkHeaderStart, decodeHeader, type Pyro5Header } from "./header.js";
import { decodeAnnotations, type Pyro5Message } from "./message.js";

/** Bytes of tag and version: enough to refuse garbage before a whole header is there. */
const HEADER_START = 6;

export class Pyro5MessageReader {
  readonly #maxMessageSize: number;
  readonly #bytes = new ByteQueue();
  /** The header of the message whose body is awaited. */
  #header: Pyro5Header | undefined;
  /** Why the stream is beyond repair, once a push threw. */
  #failure: string | undefined;

  constructor(options: { maxMessageSize: number }) {
    if (!(options.maxMessageSize >= 0)) throw new RangeError(`maxMessageSize must be a number >= 0, got ${options.maxMessageSize}`);
    this.#maxMessageSize = options.maxMessageSize;
  }

  /** Bytes of an incomplete message held. */
  get pending(): number {
    return this.#bytes.length + (this.#header ? HEADER_SIZE : 0);
  }

  /**
   * Feeds bytes; returns the messages completed by them (zero or more). Throws ProtocolError
   * (bad tag/version/magic, annotation chunks overrunning, bad zlib data, unknown message type) or
   * MessageTooLargeError (data + annotations > maxMessageSize, checked from the header before any
   * allocation). After a throw the reader is spent: every later push throws ProtocolError again
   * (and messages the same chunk completed before the bad one are dropped with it).
   */
  push(chunk: Buffer): Pyro5Message[] {
    if (this.#failure !== undefined) throw new ProtocolError(`the Pyro5 stream is unusable after an earlier error: ${this.#failure}`);
    if (chunk.length === 0) return [];
    this.#bytes.push(chunk);
    const messages: Pyro5Message[] = [];
    try {
      for (;;) {
        if (this.#header === undefined) {
          if (this.#bytes.length === 0) return messages;
          if (this.#bytes.length < HEADER_SIZE) {
            checkHeaderStart(this.#bytes.peek(Math.min(this.#bytes.length, HEADER_START)));
            return messages;
          }
          this.#header = this.#readHeader();
        }
        const header = this.#header;
        const bodyLength = header.annotationsLength + header.dataLength;
        if (this.#bytes.length < bodyLength) return messages;
        this.#header = undefined;
        messages.push(this.#message(header, this.#bytes.take(bodyLength)));
      }
    } catch (error) {
      // Anything else would be a bug here; still the caller gets the one error type it handles.
      const typed = error instanceof ProtocolError || error instanceof MessageTooLargeError ? error : new ProtocolError(`malformed Pyro5 message: ${String(error)}`, { cause: error });
      this.#failure = typed.message;
      this.#bytes.clear();
      this.#header = undefined;
      throw typed;
    }
  }

  #readHeader(): Pyro5Header {
    const header = decodeHeader(this.#bytes.take(HEADER_SIZE));
    if (!isMessageType(header.type)) throw new ProtocolError(`unknown Pyro5 message type ${header.type}`);
    const size = header.dataLength + header.annotationsLength;
    if (size > this.#maxMessageSize) {
      throw new MessageTooLargeError(`a Pyro5 message of ${size} bytes (data ${header.dataLength} + annotations ${header.annotationsLength}) exceeds the limit of ${this.#maxMessageSize}`);
    }
    return header;
  }

  #message(header: Pyro5Header, body: Buffer): Pyro5Message {
    const annotations = decodeAnnotations(body.subarray(0, header.annotationsLength));
    let payload = body.subarray(header.annotationsLength);
    let flags = header.flags;
    if (flags & Flag.compressed) {
      payload = this.#inflate(payload);
      flags &= ~Flag.compressed;
    }
    const base = { type: header.type, serializerId: header.serializerId, flags, seq: header.seq, annotations, payload };
    return flags & Flag.correlationId ? { ...base, correlationId: header.correlationId } : base;
  }

  #inflate(compressed: Buffer): Buffer {
    try {
      // Bounded: a small compressed payload must not inflate past the limit (a zip bomb).
      return inflateSync(compressed, { maxOutputLength: Math.max(1, this.#maxMessageSize) });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "ERR_BUFFER_TOO_LARGE") throw new MessageTooLargeError(`a compressed Pyro5 payload inflates beyond the limit of ${this.#maxMessageSize} bytes`);
      throw new ProtocolError(`a compressed Pyro5 payload is not valid zlib data: ${(error as Error).message}`);
    }
  }
}
