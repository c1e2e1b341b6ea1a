import type { Socket } from "node:net";
import { encodeFrames, encodeInto, FrameDecoder, HEARTBEAT, PREAMBLE, type OutFrame } from "./frame-codec.js";

export interface TcpConnectionEvents {
  /** The peer's preamble arrived: messages can flow. */
  onOpen(): void;
  onMessage(frames: Buffer[]): void;
  /** The connection ended (closed by either side, broken, silent too long, or the peer broke the format). */
  onClose(reason: Error | undefined): void;
}

/** Small messages are encoded one after another into a buffer of this size, written as one. */
const SLAB_BYTES = 64 * 1024;
/**
 * What is encoded is written once this much is waiting, even within a tick: the peer starts on
 * the first messages while the rest are made (under pipelining both ends then work at once,
 * instead of taking turns with a whole tick's batch each).
 */
const FLUSH_BYTES = 2 * 1024;

/** A peer that sends less than this per heartbeatTimeout, and no whole message, is taken for dead (or a slowloris). */
const MIN_BYTES_PER_TIMEOUT = 64 * 1024;

/**
 * One framed connection over a net.Socket, either end: preamble both ways, messages as frame
 * arrays, heartbeats when idle, and the peer dropped when it is silent (or trickles) for
 * `heartbeatTimeout`. Small messages sent in one tick leave in few writes (see FLUSH_BYTES).
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
  /** Messages encoded and not yet written lie in #slab from #start to #end. */
  #slab = Buffer.allocUnsafe(SLAB_BYTES);
  #start = 0;
  #end = 0;
  #flushScheduled = false;
  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

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
    let end = encodeInto(frames, this.#slab, this.#end);
    if (end < 0) {
      this.#flush();
      // The slab's written part stays the socket's until written: a new slab, never reused.
      if (this.#end > SLAB_BYTES / 2) this.#freshSlab();
      end = encodeInto(frames, this.#slab, this.#end);
    }
    if (end >= 0) {
      this.#end = end;
      if (end - this.#start >= FLUSH_BYTES) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(this.#flushSoon);
      }
      return;
    }
    // Large binary frames go by reference, never copied.
    for (const buffer of encodeFrames(frames)) this.#socket.write(buffer);
    this.#lastSent = Date.now();
  }

  /** Closes gracefully: what was written still leaves. */
  end(): void {
    clearInterval(this.#timer);
    this.#flush();
    this.#socket.end();
  }

  #flush(): void {
    if (this.#end === this.#start || this.#closed) return;
    this.#socket.write(this.#slab.subarray(this.#start, this.#end));
    this.#lastSent = Date.now();
    this.#start = this.#end;
    if (SLAB_BYTES - this.#end < FLUSH_BYTES) this.#freshSlab();
  }

  #freshSlab(): void {
    this.#slab = Buffer.allocUnsafe(SLAB_BYTES);
    this.#start = this.#end = 0;
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
    if (messages.length > 0) this.#lastMessage = Date.now();
    for (const frames of messages) if (frames.length > 0 && !this.#closed) this.#events.onMessage(frames);
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
      this.#flush();
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
