/**
 * How frame arrays travel on a plain byte stream (the TCP transport). Pure, no I/O.
 *
 *   preamble, once each way:  "PYTS", version (1), 3 bytes 0; a daemon refusing the client
 *                             (TLS: its certificate is not authorized) sends byte 5 = 1, then closes
 *   each message:             frame count (uint32 BE), then per frame its length
 *                             (uint32 BE) and its bytes
 *   a message of no frames is a heartbeat: it only proves the peer alive
 *
 * The decoder checks every length against the limits before it allocates anything, and
 * hands out frames that lie whole in one received chunk without copying them.
 */
import { ByteQueue } from "../../byte-queue.js";
import { MessageTooLargeError, ProtocolError, SecurityError } from "../../errors.js";
import { readUint32, writeUint32 } from "../../uint32.js";

export const PREAMBLE = Buffer.from([0x50, 0x59, 0x54, 0x53, 1, 0, 0, 0]);
/** The preamble of a daemon that refuses this client, and closes. */
export const REFUSAL = Buffer.from([0x50, 0x59, 0x54, 0x53, 1, 1, 0, 0]);
/** Frames one message may have: a batch of 65,536 messages of a few frames each fits. */
export const MAX_FRAMES = 1 << 20;
const U32 = 4;

/** A frame about to be written: strings as UTF-8. */
export type OutFrame = Uint8Array | string;

/** Frames up to this size are copied into the message's header buffer: one write instead of several. */
const INLINE_BYTES = 16 * 1024;

/**
 * The buffers to write for one message: its frame count, lengths and small frames (strings
 * encoded in place) in as few buffers as possible; a large binary frame goes by reference,
 * never copied.
 */
export function encodeFrames(frames: readonly OutFrame[]): Buffer[] {
  const lengths = frames.map((f) => (typeof f === "string" ? Buffer.byteLength(f) : f.byteLength));
  const inline = (i: number): boolean => typeof frames[i] === "string" || lengths[i]! <= INLINE_BYTES;
  // Sizes of the buffers to fill: one grows until a large binary frame interrupts it.
  const sizes: number[] = [U32];
  for (let i = 0; i < frames.length; i++) {
    sizes[sizes.length - 1]! += U32;
    if (inline(i)) sizes[sizes.length - 1]! += lengths[i]!;
    else sizes.push(0);
  }
  const out: Buffer[] = [];
  let current = Buffer.allocUnsafe(sizes[0]!);
  let at = current.writeUInt32BE(frames.length, 0);
  let segment = 0;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    at = current.writeUInt32BE(lengths[i]!, at);
    if (typeof frame === "string") at += current.write(frame, at, "utf8");
    else if (inline(i)) at += Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).copy(current, at);
    else {
      out.push(current, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      current = Buffer.allocUnsafe(sizes[++segment]!);
      at = 0;
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Writes a message of small frames (strings, binary frames up to INLINE_BYTES) into `target` at
 * `at`, and returns where it ends; -1, with nothing meaningful written, when it has a larger
 * binary frame or may not fit (a string is reserved 3 bytes per UTF-16 unit, its most).
 * Many messages then leave in one buffer, with no allocation of their own.
 */
export function encodeInto(frames: readonly OutFrame[], target: Buffer, at: number): number {
  let bound = at + U32 * (frames.length + 1);
  for (const frame of frames) {
    if (typeof frame === "string") bound += 3 * frame.length;
    else if (frame.byteLength > INLINE_BYTES) return -1;
    else bound += frame.byteLength;
  }
  if (bound > target.length) return -1;
  at = writeUint32(target, frames.length, at);
  for (const frame of frames) {
    const start = at + U32;
    let length = frame.length;
    if (typeof frame === "string") length = target.write(frame, start, "utf8");
    else target.set(frame, start);
    writeUint32(target, length, at);
    at = start + length;
  }
  return at;
}

/** Messages of up to this many frames are cut out of a chunk in one pass when they lie whole in it. */
const WHOLE_MESSAGE_FRAMES = 8;

/** A heartbeat: a message of no frames. */
export const HEARTBEAT = Buffer.alloc(U32);

/**
 * Turns the chunks read from a byte stream back into messages. `push` returns the complete
 * messages the chunk finished (heartbeats as empty arrays) and throws ProtocolError or
 * MessageTooLargeError when the peer breaks the format or the limit: the connection is then
 * beyond repair and must be closed.
 */
export class FrameDecoder {
  readonly #maxMessageSize: number;
  readonly #bytes = new ByteQueue();
  // Where the decoder is, in plain fields (no state objects: one per frame made every
  // access megamorphic): reading the preamble, a frame count, a frame's length, or its bytes.
  #stage: "preamble" | "count" | "length" | "frame" = "preamble";
  #frames: Buffer[] = [];
  #count = 0;
  #size = 0;
  #length = 0;

  constructor(maxMessageSize: number) {
    this.#maxMessageSize = maxMessageSize;
  }

  /** Whether the peer's preamble has arrived. */
  get started(): boolean {
    return this.#stage !== "preamble";
  }

  push(chunk: Buffer): Buffer[][] {
    if (chunk.length === 0) return [];
    this.#bytes.push(chunk);
    const messages: Buffer[][] = [];
    for (;;) {
      switch (this.#stage) {
        case "preamble": {
          if (this.#bytes.length < PREAMBLE.length) return messages;
          const preamble = this.#bytes.take(PREAMBLE.length);
          if (preamble.equals(REFUSAL)) throw new SecurityError("the daemon refused this client: its TLS certificate is not among those the daemon admits");
          if (!preamble.equals(PREAMBLE)) throw new ProtocolError(`the peer does not speak the pyro-ts TCP protocol (it began with ${preamble.toString("hex")})`);
          this.#stage = "count";
          break;
        }
        case "count": {
          const whole = this.#wholeMessage();
          if (whole) {
            messages.push(whole);
            break;
          }
          if (this.#bytes.length < U32) return messages;
          const count = this.#bytes.takeUInt32();
          if (count === 0) {
            messages.push([]);
            break;
          }
          if (count > MAX_FRAMES || count * U32 > this.#maxMessageSize) throw new ProtocolError(`a message of ${count} frames (at most ${MAX_FRAMES})`);
          this.#frames = [];
          this.#count = count;
          this.#size = 0;
          this.#stage = "length";
          break;
        }
        case "length": {
          if (this.#bytes.length < U32) return messages;
          const length = this.#bytes.takeUInt32();
          this.#size += length;
          if (this.#size > this.#maxMessageSize) throw new MessageTooLargeError(`a message of more than ${this.#maxMessageSize} bytes (a frame of ${length})`);
          this.#length = length;
          this.#stage = "frame";
          break;
        }
        case "frame": {
          if (this.#bytes.length < this.#length) return messages;
          this.#frames.push(this.#bytes.take(this.#length));
          if (this.#frames.length < this.#count) {
            this.#stage = "length";
          } else {
            messages.push(this.#frames);
            this.#stage = "count";
          }
          break;
        }
      }
    }
  }

  /**
   * A message of a few frames lying whole in the head chunk, as most small ones do: cut out in
   * one pass (views, no stage changes). Undefined when it is not there whole or breaks a limit:
   * the stages then take it piece by piece, and throw as they do.
   */
  #wholeMessage(): Buffer[] | undefined {
    const chunk = this.#bytes.head;
    const start = this.#bytes.headOffset;
    if (chunk.length - start < U32) return undefined;
    const count = readUint32(chunk, start);
    if (count === 0 || count > WHOLE_MESSAGE_FRAMES) return undefined;
    const frames: Buffer[] = [];
    let at = start + U32;
    let size = 0;
    for (let i = 0; i < count; i++) {
      if (chunk.length - at < U32) return undefined;
      const length = readUint32(chunk, at);
      size += length;
      if (at + U32 + length > chunk.length || size > this.#maxMessageSize) return undefined;
      frames.push(chunk.subarray(at + U32, at + U32 + length));
      at += U32 + length;
    }
    this.#bytes.skip(at - start);
    return frames;
  }
}
