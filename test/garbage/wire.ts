/** Hand-made (broken) protocol for the garbage tests: headers and calls built by hand, replies decoded, a raw peer. */
import { expect } from "vitest";
import { decodeValue } from "../../src/codec/values.js";
import { decodeMessage, HEADER_SIZE, isBatch, splitBatch, type OutFrame } from "../../src/protocol/frames.js";
import { KIND_CODES, PROTOCOL_VERSION, type Message } from "../../src/protocol/message.js";
import type { TransportKind } from "../helpers.js";
import { rawWire, type RawPeerEvent, type RawWire } from "../raw-wire.js";

export interface HeaderFields {
  readonly version?: number;
  readonly kind?: number;
  readonly flags?: number;
  readonly id?: number;
  readonly attachments?: number;
}

/** Writes `value` as `count` 7-bit digits at `at`, most significant first: how a header holds its numbers. */
export function writeDigits(h: Buffer, value: number, at: number, count: number): void {
  for (let i = count - 1; i >= 0; i--) {
    h[at + i] = value % 128;
    value = Math.floor(value / 128);
  }
}

/**
 * A 12-byte header with any field set to anything (valid defaults: this version, call, id 1);
 * the id in bytes 4-8, the attachment count (below 2^21) in bytes 9-11, as 7-bit digits.
 */
export function header({ version = PROTOCOL_VERSION, kind = KIND_CODES.call, flags = 0, id = 1, attachments = 0 }: HeaderFields = {}): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h[0] = version;
  h[1] = kind;
  h[2] = flags;
  writeDigits(h, id >>> 0, 4, 5);
  writeDigits(h, attachments, 9, 3);
  return h;
}

/** A message's frames built by hand: `body` after the header in the first frame, then the attachments. */
export function frames(header: Uint8Array, body: string | Uint8Array = "", ...attachments: Uint8Array[]): Buffer[] {
  return [Buffer.concat([header, Buffer.from(body)]), ...attachments.map((a) => Buffer.from(a))];
}

/** A call message built by hand: `body` is the JSON array after object and member. */
export function rawCall(id: number, object: string, member: string, rest: string, options: { oneway?: boolean; attachments?: Uint8Array[] } = {}): OutFrame[] {
  const attachments = options.attachments ?? [];
  return frames(header({ kind: KIND_CODES.call, flags: options.oneway ? 1 : 0, id, attachments: attachments.length }), `[${JSON.stringify(object)},${JSON.stringify(member)},${rest}]`, ...attachments);
}

export interface Envelope {
  readonly name: string;
  readonly message: string;
}

function isEnvelope(value: unknown): value is Envelope {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === "string" && typeof v.message === "string";
}

export type Reply = { readonly kind: "result"; readonly id: number; readonly value: unknown } | { readonly kind: "error"; readonly id: number; readonly error: Envelope };

/** Decodes what the daemon sent back; fails the test if it is not a well-formed reply. */
export function decodeReply(frames: Buffer[]): Reply {
  const message: Message = decodeMessage(frames);
  if (message.kind === "result") return { kind: "result", id: message.id, value: decodeValue(message.value) };
  if (message.kind === "error") {
    const value = decodeValue(message.value);
    if (!isEnvelope(value)) throw new Error(`error reply carries no valid envelope: ${JSON.stringify(value)}`);
    return { kind: "error", id: message.id, error: value };
  }
  throw new Error(`daemon sent a ${message.kind} message, not a reply`);
}

export function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: string }).code === "EAGAIN";
}

/** A raw client that sends whatever it is given; every receive has a timeout. */
export class RawPeer {
  readonly wire: RawWire;

  constructor(transport: TransportKind, endpoint: string) {
    this.wire = rawWire(transport, endpoint);
  }

  events(event: RawPeerEvent): number {
    return this.wire.events(event);
  }

  /** Waits until `event` has been seen more than `seen` times. */
  nextEvent(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void> {
    return this.wire.nextEvent(event, seen, timeoutMs);
  }

  send(frames: OutFrame[]): Promise<void> {
    return this.wire.send(frames);
  }

  /** Messages of a batch the daemon sent (it batches replies under load), not handed out yet. */
  #unbatched: Buffer[][] = [];

  async receive(timeoutMs = 3000): Promise<Buffer[]> {
    if (this.#unbatched.length) return this.#unbatched.shift()!;
    const frames = await this.wire.receive(timeoutMs);
    if (!isBatch(frames)) return frames;
    this.#unbatched = splitBatch(frames);
    return this.#unbatched.shift()!;
  }

  /** Sends a message and decodes the one reply it must get. */
  async request(frames: OutFrame[], timeoutMs = 3000): Promise<Reply> {
    await this.send(frames);
    return decodeReply(await this.receive(timeoutMs));
  }

  /** Sends a message that must be answered with an error; returns the error envelope after checking the id. */
  async expectError(frames: OutFrame[], id: number): Promise<Envelope> {
    const reply = await this.request(frames);
    expect(reply.kind, `reply ${JSON.stringify(reply)}`).toBe("error");
    expect(reply.id).toBe(id);
    return (reply as Extract<Reply, { kind: "error" }>).error;
  }

  /** Asserts that nothing arrives within `ms`. */
  async expectSilence(ms = 400): Promise<void> {
    let frames: Buffer[] | undefined;
    try {
      frames = await this.receive(ms);
    } catch (error) {
      if (isTimeout(error)) return;
      throw error;
    }
    expect.fail(`expected no reply, got ${JSON.stringify(decodeReply(frames))}`);
  }

  close(): void {
    this.wire.close();
  }
}
