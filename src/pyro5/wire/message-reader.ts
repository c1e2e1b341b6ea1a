/**
 * Turns the bytes of a Pyro5 stream back into messages. Pure, no I/O.
 *
 * Lengths are checked from the header before anything is allocated for the body; the
 * received chunks are kept in a list and joined once, when the whole body is there (a body
 * lying in one chunk is a view, not a copy), so a large payload arriving in many small
 * chunks costs linear time.
 */
import { inflateSync } from "node:zlib";
import { MessageTooLargeError, ProtocolError } from "../../errors.js";
import { Flag, HEADER_SIZE, isMessageType } from "./constants.js";
import { checkHeaderStart, decodeHeader, type Pyro5Header } from "./header.js";
import { decodeAnnotations, type Pyro5Message } from "./message.js";

/** Bytes of tag and version: enough to refuse garbage before a whole header is there. */
const HEADER_START = 6;
const EMPTY = Buffer.alloc(0);

export class Pyro5MessageReader {
  readonly #maxMessageSize: number;
  #chunks: Buffer[] = [];
  /** Index of the first chunk not consumed yet (shifting many small chunks would be quadratic). */
  #first = 0;
  /** Offset of the first unconsumed byte in #chunks[#first]. */
  #offset = 0;
  /** Bytes in #chunks not consumed yet. */
  #buffered = 0;
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
    return this.#buffered + (this.#header ? HEADER_SIZE : 0);
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
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const messages: Pyro5Message[] = [];
    try {
      for (;;) {
        if (this.#header === undefined) {
          if (this.#buffered === 0) return messages;
          if (this.#buffered < HEADER_SIZE) {
            checkHeaderStart(this.#peek(Math.min(this.#buffered, HEADER_START)));
            return messages;
          }
          this.#header = this.#readHeader();
        }
        const header = this.#header;
        const bodyLength = header.annotationsLength + header.dataLength;
        if (this.#buffered < bodyLength) return messages;
        this.#header = undefined;
        messages.push(this.#message(header, this.#take(bodyLength)));
      }
    } catch (error) {
      // Anything else would be a bug here; still the caller gets the one error type it handles.
      const typed = error instanceof ProtocolError || error instanceof MessageTooLargeError ? error : new ProtocolError(`malformed Pyro5 message: ${String(error)}`, { cause: error });
      this.#failure = typed.message;
      this.#chunks = [];
      this.#first = this.#offset = this.#buffered = 0;
      this.#header = undefined;
      throw typed;
    }
  }

  #readHeader(): Pyro5Header {
    const header = decodeHeader(this.#take(HEADER_SIZE));
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

  /** The first `n` buffered bytes (n ≤ #buffered) without consuming them. */
  #peek(n: number): Buffer {
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#offset >= n) return first.subarray(this.#offset, this.#offset + n);
    const copy = Buffer.allocUnsafe(n);
    let copied = 0;
    for (let i = this.#first, offset = this.#offset; copied < n; i++, offset = 0) {
      const chunk = this.#chunks[i]!;
      copied += chunk.copy(copy, copied, offset, Math.min(chunk.length, offset + n - copied));
    }
    return copy;
  }

  /** Takes `n` buffered bytes (n ≤ #buffered): a view when they lie in one chunk, else one copy. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#consume(n);
      return view;
    }
    const copy = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[this.#first]!;
      const part = Math.min(n - copied, chunk.length - this.#offset);
      chunk.copy(copy, copied, this.#offset, this.#offset + part);
      copied += part;
      this.#consume(part);
    }
    return copy;
  }

  #consume(n: number): void {
    this.#buffered -= n;
    this.#offset += n;
    if (this.#offset === this.#chunks[this.#first]!.length) {
      this.#first++;
      this.#offset = 0;
      if (this.#first === this.#chunks.length) {
        this.#chunks = [];
        this.#first = 0;
      } else if (this.#first > 1024 && this.#first * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#first);
        this.#first = 0;
      }
    }
  }
}
