/** The fuzz test's raw peers (fuzz.test.ts): the fuzz peers that account for every reply, and the bomb peer. */
import { decodeValue } from "../../src/codec/values.js";
import { decodeMessage, isBatch, splitBatch } from "../../src/protocol/frames.js";
import type { Message } from "../../src/protocol/message.js";
import type { TransportKind } from "../helpers.js";
import { rawWire, type RawWire } from "../raw-wire.js";
import { MAX_MESSAGE, STALL_MS } from "./config.js";
import type { ExpectedReply } from "./expected-replies.js";
import type { Rng } from "./rng.js";
import { call, type Frames } from "./valid-messages.js";

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: string }).code === "EAGAIN";
}

interface Envelope {
  readonly name: string;
  readonly message: string;
}

function isEnvelope(value: unknown): value is Envelope {
  return value !== null && typeof value === "object" && typeof (value as Envelope).name === "string" && typeof (value as Envelope).message === "string";
}

/** Shared tallies and the problems found, of one fuzz run. */
export class Tally {
  readonly problems: string[] = [];
  readonly errorNames = new Map<string, number>();
  replies = 0;
  events = 0;
  resets = 0;
  problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
  }
}

/** A raw client sending fuzz messages and checking that each gets exactly the replies it must. */
export class FuzzPeer {
  readonly wire: RawWire;
  /** Expected replies by correlation id: how many may be errors or results, how many must be errors. */
  readonly #expected = new Map<number, { any: number; errors: number }>();
  outstanding = 0;
  #progress: (() => void)[] = [];
  #lastReply = Date.now();
  readonly #loop: Promise<void>;
  readonly #tally: Tally;
  readonly #name: string;
  #replyWaiter: { id: number; resolve: (value: unknown) => void } | undefined;

  constructor(transport: TransportKind, endpoint: string, tally: Tally, name: string) {
    this.#tally = tally;
    this.#name = name;
    this.wire = rawWire(transport, endpoint, { sendTimeout: STALL_MS });
    this.#loop = this.#receiveLoop();
  }

  async send(frames: Frames, expected: readonly ExpectedReply[]): Promise<void> {
    for (const e of expected) {
      const slot = this.#expected.get(e.id) ?? { any: 0, errors: 0 };
      if (e.error) slot.errors++;
      else slot.any++;
      this.#expected.set(e.id, slot);
      this.outstanding++;
    }
    await this.wire.send(frames);
  }

  /** Waits until at most `limit` replies are outstanding; fails when none comes for STALL_MS. */
  async drain(limit: number): Promise<void> {
    this.#lastReply = Date.now();
    while (this.outstanding > limit) {
      const left = this.#lastReply + STALL_MS - Date.now();
      if (left <= 0) throw new Error(`${this.#name}: no reply for ${STALL_MS} ms with ${this.outstanding} outstanding (the daemon hangs or lost replies; first ids: ${[...this.#expected.keys()].slice(0, 5).join(", ")})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#progress.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a valid call and waits for its result (other replies still accounted for). */
  async request(id: number, object: string, member: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    const answer = new Promise<unknown>((resolve) => (this.#replyWaiter = { id, resolve }));
    await this.send(call(id, object, member, args), [{ id, error: false }]);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([answer, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.#name}: no result for ${object}.${member} #${id} within ${timeoutMs} ms`)), timeoutMs)))]);
    } finally {
      clearTimeout(timer);
      this.#replyWaiter = undefined;
    }
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.wire.receive();
      } catch (error) {
        if (this.wire.closed || isTimeout(error)) return;
        this.#tally.problem(`${this.#name}: receive failed: ${String(error)}`);
        return;
      }
      let messages: Buffer[][];
      try {
        messages = isBatch(frames) ? splitBatch(frames) : [frames];
      } catch (error) {
        this.#tally.problem(`${this.#name}: the daemon sent a malformed batch: ${String(error)}`);
        continue;
      }
      for (const m of messages) this.#onMessage(m);
    }
  }

  #onMessage(frames: Buffer[]): void {
    let message: Message;
    try {
      message = decodeMessage(frames);
    } catch (error) {
      this.#tally.problem(`${this.#name}: the daemon sent an undecodable message: ${String(error)}`);
      return;
    }
    switch (message.kind) {
      case "result":
      case "error": {
        let value: unknown;
        try {
          value = decodeValue(message.value);
        } catch (error) {
          this.#tally.problem(`${this.#name}: ${message.kind} #${message.id} does not decode: ${String(error)}`);
        }
        if (message.kind === "error") {
          if (!isEnvelope(value)) this.#tally.problem(`${this.#name}: error #${message.id} carries no valid envelope`);
          else this.#tally.errorNames.set(value.name, (this.#tally.errorNames.get(value.name) ?? 0) + 1);
        }
        this.#account(message.id, message.kind === "error");
        if (this.#replyWaiter?.id === message.id) this.#replyWaiter.resolve(message.kind === "result" ? value : { error: value });
        return;
      }
      case "event":
        try {
          decodeValue(message.args);
        } catch (error) {
          this.#tally.problem(`${this.#name}: event ${message.object}.${message.signal} does not decode: ${String(error)}`);
        }
        this.#tally.events++;
        return;
      case "reset":
        this.#tally.resets++;
        return;
      default:
        this.#tally.problem(`${this.#name}: the daemon sent a ${message.kind} message`);
    }
  }

  #account(id: number, isError: boolean): void {
    this.#tally.replies++;
    const slot = this.#expected.get(id);
    if (!slot || (!isError && slot.any === 0)) {
      this.#tally.problem(`${this.#name}: unexpected ${isError ? "error" : "result"} with id ${id} (a reply no message asked for, or a result to a message that cannot be decoded)`);
      return;
    }
    if (isError && slot.errors > 0) slot.errors--;
    else slot.any--;
    if (slot.any === 0 && slot.errors === 0) this.#expected.delete(id);
    this.outstanding--;
    this.#lastReply = Date.now();
    for (const wake of this.#progress.splice(0)) wake();
  }

  async close(): Promise<void> {
    this.wire.close();
    await this.#loop;
  }
}

/**
 * A raw client that now and then sends a single frame over the daemon's maximum, which makes
 * libzmq (or the TCP transport, at its length prefix) drop its connection; over TCP it also
 * sends the fuzz messages too large for the framing. It reconnects by itself.
 */
export class BombPeer {
  readonly wire: RawWire;
  readonly #loop: Promise<void>;

  constructor(transport: TransportKind, endpoint: string) {
    const wire = rawWire(transport, endpoint, { sendTimeout: 2000 });
    this.wire = wire;
    // Nothing is expected for the oversized frames; drain whatever comes.
    this.#loop = (async () => {
      while (!wire.closed) {
        try {
          await wire.receive();
        } catch {
          return; // closed
        }
      }
    })();
  }

  /** Connections the daemon (libzmq, or the TCP transport) dropped. */
  get disconnects(): number {
    return this.wire.events("disconnect");
  }

  async bomb(r: Rng): Promise<void> {
    const frame = r.bytes(64);
    await this.send([Buffer.concat([frame, Buffer.alloc(MAX_MESSAGE + 1024 - frame.length)])]);
  }

  async send(frames: Frames): Promise<void> {
    await this.wire.send(frames).catch(() => {});
  }

  async close(): Promise<void> {
    this.wire.close();
    await this.#loop;
  }
}
