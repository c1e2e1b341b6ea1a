import type { Socket } from "node:net";
import { encodeFrames, FrameDecoder, HEARTBEAT, PREAMBLE, type OutFrame } from "./frame-codec.js";

export interface TcpConnectionEvents {
  /** The peer's preamble arrived: messages can flow. */
  onOpen(): void;
  onMessage(frames: Buffer[]): void;
  /** The connection ended (closed by either side, broken, silent too long, or the peer broke the format). */
  onClose(reason: Error | undefined): void;
}

/** A peer that sends less than this per heartbeatTimeout, and no whole message, is taken for dead (or a slowloris). */
const MIN_BYTES_PER_TIMEOUT = 64 * 1024;

/**
 * One framed connection over a net.Socket, either end: preamble both ways, messages as frame
 * arrays, heartbeats when idle, and the peer dropped when it is silent (or trickles) for
 * `heartbeatTimeout`. Several messages written in one tick leave in one write (corked).
 */
export class TcpConnection {
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #events: TcpConnectionEvents;
  readonly #heartbeatInterval: number;
  readonly #heartbeatTimeout: number;
  readonly #timer: NodeJS.Timeout;
  /** How often the liveness check runs. */
  readonly #period: number;
  #open = false;
  #closed = false;
  #lastSent = Date.now();
  #lastMessage = Date.now();
  #bytesSinceCheck = 0;
  #lastCheck = Date.now();
  #lastTick = Date.now();
  #corked = false;

  constructor(socket: Socket, options: { maxMessageSize: number; heartbeatInterval: number; heartbeatTimeout: number }, events: TcpConnectionEvents) {
    this.#socket = socket;
    this.#events = events;
    this.#decoder = new FrameDecoder(options.maxMessageSize);
    this.#heartbeatInterval = options.heartbeatInterval;
    this.#heartbeatTimeout = options.heartbeatTimeout;
    socket.setNoDelay(true);
    socket.write(PREAMBLE);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (error) => this.#close(error));
    socket.on("close", () => this.#close(undefined));
    this.#period = Math.max(10, Math.floor(Math.min(this.#heartbeatInterval, this.#heartbeatTimeout) / 2));
    this.#timer = setInterval(() => this.#check(), this.#period).unref();
  }

  get open(): boolean {
    return this.#open && !this.#closed;
  }

  send(frames: readonly OutFrame[]): void {
    if (this.#closed) return;
    if (!this.#corked) {
      // Everything sent in this tick leaves in one write.
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    for (const buffer of encodeFrames(frames)) this.#socket.write(buffer);
    this.#lastSent = Date.now();
  }

  /** Closes gracefully: what was written still leaves. */
  end(): void {
    clearInterval(this.#timer);
    this.#socket.end();
  }

  destroy(reason?: Error): void {
    this.#socket.destroy();
    this.#close(reason);
  }

  #receive(chunk: Buffer): void {
    this.#bytesSinceCheck += chunk.length;
    let messages: Buffer[][];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    if (!this.#open && this.#decoder.started) {
      // Messages that came with the preamble are delivered after the opening.
      this.#open = true;
      this.#lastMessage = Date.now();
      this.#events.onOpen();
    }
    for (const frames of messages) {
      this.#lastMessage = Date.now();
      if (frames.length > 0 && !this.#closed) this.#events.onMessage(frames);
    }
  }

  #check(): void {
    const now = Date.now();
    const late = now - this.#lastTick > 2 * this.#period;
    this.#lastTick = now;
    if (late) {
      // This process was blocked: what the peer sent meanwhile is still unread. Its silence is
      // ours; count afresh.
      this.#lastMessage = this.#lastCheck = now;
      this.#bytesSinceCheck = 0;
    }
    if (now - this.#lastSent >= this.#heartbeatInterval) {
      this.#socket.write(HEARTBEAT);
      this.#lastSent = now;
    }
    if (now - this.#lastCheck < this.#heartbeatTimeout) return;
    const trickling = this.#bytesSinceCheck < MIN_BYTES_PER_TIMEOUT;
    if (now - this.#lastMessage >= this.#heartbeatTimeout && trickling) {
      this.destroy(new Error(`nothing from the peer for ${this.#heartbeatTimeout} ms`));
      return;
    }
    this.#lastCheck = now;
    this.#bytesSinceCheck = 0;
  }

  #close(reason: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#events.onClose(reason);
  }
}
