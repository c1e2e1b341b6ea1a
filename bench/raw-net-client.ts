import { connect, type Socket } from "node:net";
import { ReplyWaiters } from "./reply-waiters.js";

/**
 * The raw node:net baseline's wire: each message is its length (uint32 BE) and its bytes; the
 * first byte of a message says what it is (as the first frame does on the raw ZeroMQ side):
 * "e" echo, "a" reply the length, "o" count without reply, "b" reply the count, "c" reply
 * cpuUsage, "s" subscribe this connection, "f" + n send n messages "t" + i to every subscriber.
 * `bodyFollows`: the length of a body written separately after this prefix.
 */
export function encodeMessage(kind: string, body?: Buffer | string, bodyFollows = 0): Buffer {
  const bodyLength = body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.length;
  const message = Buffer.allocUnsafe(5 + bodyLength);
  message.writeUInt32BE(1 + bodyLength + bodyFollows, 0);
  message[4] = kind.charCodeAt(0);
  if (typeof body === "string") message.write(body, 5, "utf8");
  else if (body) body.copy(message, 5);
  return message;
}

/** Cuts a byte stream into messages; a message split over several chunks is copied once, when whole. */
export class LengthDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The length of the message being received, -1 before its prefix arrived. */
  #length = -1;

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#length < 0) {
        if (this.#buffered < 4) return;
        if (this.#chunks[0]!.length < 4) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
        this.#length = this.#chunks[0]!.readUInt32BE(0);
      }
      if (this.#buffered < 4 + this.#length) return;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
      const end = 4 + this.#length;
      const message = all.subarray(4, end);
      this.#buffered -= end;
      this.#chunks = this.#buffered > 0 ? [all.subarray(end)] : [];
      this.#length = -1;
      onMessage(message);
    }
  }
}

/** Bytes written within a tick after which they leave at once (the TCP transport's FLUSH_BYTES). */
const FLUSH_BYTES = 2 * 1024;

/**
 * Writes of one tick leave together, in writes of about FLUSH_BYTES, as the TCP transport's do
 * (so the peer starts on the first while the rest are made, as any tuned client would).
 */
export class CorkedWriter {
  readonly #socket: Socket;
  #corked = false;
  #bytes = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  write(message: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#bytes = 0;
        this.#socket.uncork();
      });
    }
    this.#socket.write(message);
    this.#bytes += message.length;
    if (this.#bytes >= FLUSH_BYTES) {
      this.#bytes = 0;
      this.#socket.uncork();
      this.#socket.cork();
    }
  }
}

/**
 * The baseline client: a bare node:net socket with length-prefixed messages. Replies come
 * back in order, so a FIFO of waiters (ReplyWaiters) is all the matching it needs.
 */
export class RawNetClient {
  readonly #socket: Socket;
  readonly #writer: CorkedWriter;
  readonly #decoder = new LengthDecoder();
  readonly #waiters = new ReplyWaiters<Buffer>();
  readonly ready: Promise<void>;
  readonly #closed: Promise<void>;
  /** Messages received that nobody waited for (signal fan-out). */
  unsolicited = 0;

  constructor(endpoint: { host: string; port: number }) {
    this.#socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    this.#writer = new CorkedWriter(this.#socket);
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once("connect", resolve);
      this.#socket.once("error", reject);
    });
    this.#closed = new Promise((resolve) => this.#socket.once("close", () => resolve()));
    this.#socket.on("error", () => {});
    this.#socket.on("data", (chunk: Buffer) =>
      this.#decoder.push(chunk, (message) => {
        if (message[0] === 0x74 /* "t" */) {
          this.unsolicited++;
          return;
        }
        this.#waiters.answer(message);
      }),
    );
  }

  send(kind: string, body?: Buffer | string): void {
    if (body === undefined || typeof body === "string" || body.length < 4096) {
      this.#writer.write(encodeMessage(kind, body));
      return;
    }
    // A large Buffer is written as it is, after its prefix (one writev, no copy).
    this.#writer.write(encodeMessage(kind, undefined, body.length));
    this.#writer.write(body);
  }

  request(kind: string, body?: Buffer | string): Promise<Buffer> {
    const reply = this.#waiters.next();
    this.send(kind, body);
    return reply;
  }

  async count(): Promise<number> {
    return Number((await this.request("b")).subarray(1).toString());
  }

  async cpu(): Promise<NodeJS.CpuUsage> {
    return JSON.parse((await this.request("c")).subarray(1).toString()) as NodeJS.CpuUsage;
  }

  async close(): Promise<void> {
    this.#socket.end();
    this.#socket.destroySoon();
    await this.#closed;
  }
}
