/**
 * A raw client of the TCP transport for the tests: it speaks the framing of
 * src/transport/tcp/frame-codec.ts over node:net (preamble, then per message a frame count
 * and length-prefixed frames) and sends whatever frames it is given, as the tests' raw
 * ZeroMQ DEALERs do over ZMTP. Like a DEALER it reconnects by itself after the daemon drops
 * the connection, counts its connections ("handshake": the daemon's preamble arrived) and
 * losses ("disconnect"), and answers the transport's liveness check with heartbeats (empty
 * messages) unless told not to. Every receive can be bounded; a receive that times out
 * rejects with code "EAGAIN", as zeromq.js does.
 */
import { connect as netConnect, type Socket } from "node:net";
import { encodeFrames, FrameDecoder, HEARTBEAT, PREAMBLE, type OutFrame } from "../src/transport/tcp/frame-codec.js";
import { connectOptions, parseTcpEndpoint, type TcpEndpoint } from "../src/transport/tcp/tcp-endpoint.js";
import { ConnectionEvents, type RawPeerEvent } from "./connection-events.js";

export type { RawPeerEvent };

export interface RawTcpPeerOptions {
  /** Largest message accepted from the daemon; a bigger one ends the connection. Default 1 GiB. */
  readonly maxMessageSize?: number;
  /** An empty message (the transport's heartbeat) is sent every this many ms; 0: never (a silent peer). Default 500. */
  readonly heartbeatInterval?: number;
  /** Dials again this long after a connection ended (as a DEALER reconnects); 0: never. Default 100. */
  readonly reconnectInterval?: number;
}

/** What a bounded receive rejects with when nothing came in time (the code zeromq.js uses). */
export class ReceiveTimeout extends Error {
  readonly code = "EAGAIN";
  constructor(ms: number) {
    super(`no message within ${ms} ms`);
  }
}

export class RawTcpPeer {
  readonly #where: TcpEndpoint;
  readonly #maxMessageSize: number;
  readonly #reconnectInterval: number;
  readonly #events = new ConnectionEvents();
  readonly #messages: Buffer[][] = [];
  #receiver: { resolve: (frames: Buffer[]) => void; reject: (error: Error) => void } | undefined;
  #socket: Socket | undefined;
  /** Connections whose preamble from the daemon arrived. */
  readonly #opened = new WeakSet<Socket>();
  /** What was sent while no connection was up, written once one is (as a DEALER queues messages). */
  #pending: Buffer[] = [];
  readonly #heartbeats: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(endpoint: string, options: RawTcpPeerOptions = {}) {
    this.#where = parseTcpEndpoint(endpoint);
    this.#maxMessageSize = options.maxMessageSize ?? 1024 ** 3;
    this.#reconnectInterval = options.reconnectInterval ?? 100;
    const heartbeatInterval = options.heartbeatInterval ?? 500;
    if (heartbeatInterval > 0) this.#heartbeats = setInterval(() => this.#socket?.writable && this.#socket.write(HEARTBEAT), heartbeatInterval).unref();
    this.#dial();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a connection is up (the daemon's preamble arrived). */
  get connected(): boolean {
    return this.#socket !== undefined && !this.#socket.destroyed && this.#opened.has(this.#socket);
  }

  events(event: RawPeerEvent): number {
    return this.#events.count(event);
  }

  /** Waits until `event` has been seen more than `seen` times. */
  nextEvent(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void> {
    return this.#events.next(event, seen, timeoutMs);
  }

  /** Sends one message, frames as given; while no connection is up it waits for the next one. */
  async send(frames: OutFrame[]): Promise<void> {
    this.#out(encodeFrames(frames));
  }

  /** The next message (heartbeats are not messages); rejects with code EAGAIN when none comes within `timeoutMs` (undefined: wait for ever). */
  receive(timeoutMs?: number): Promise<Buffer[]> {
    if (this.#closed) return Promise.reject(new Error("the raw peer is closed"));
    if (this.#messages.length > 0) return Promise.resolve(this.#messages.shift()!);
    if (this.#receiver) return Promise.reject(new Error("one receive at a time"));
    return new Promise<Buffer[]>((resolve, reject) => {
      const timer = timeoutMs === undefined || timeoutMs < 0 ? undefined : setTimeout(() => {
        this.#receiver = undefined;
        reject(new ReceiveTimeout(timeoutMs));
      }, timeoutMs);
      this.#receiver = {
        resolve: (frames) => {
          clearTimeout(timer);
          this.#receiver = undefined;
          resolve(frames);
        },
        reject: (error) => {
          clearTimeout(timer);
          this.#receiver = undefined;
          reject(error);
        },
      };
    });
  }

  /** Closes at once (as a DEALER with linger 0): unsent messages are dropped; a pending receive rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeats);
    clearTimeout(this.#retry);
    this.#pending = [];
    this.#socket?.destroy();
    this.#receiver?.reject(new Error("the raw peer is closed"));
  }

  #dial(): void {
    const socket = netConnect(connectOptions(this.#where));
    this.#socket = socket;
    const decoder = new FrameDecoder(this.#maxMessageSize);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.write(PREAMBLE);
    socket.on("data", (chunk: Buffer) => {
      let messages: Buffer[][];
      try {
        messages = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      if (!this.#opened.has(socket) && decoder.started) {
        this.#opened.add(socket);
        this.#write(socket, this.#pending.splice(0));
        this.#event("handshake");
      }
      for (const frames of messages) {
        if (frames.length === 0) continue; // a heartbeat
        if (this.#receiver) this.#receiver.resolve(frames);
        else this.#messages.push(frames);
      }
    });
    socket.on("close", () => {
      if (this.#opened.has(socket)) this.#event("disconnect");
      if (this.#socket === socket) this.#socket = undefined;
      if (!this.#closed && this.#reconnectInterval > 0) this.#retry = setTimeout(() => this.#dial(), this.#reconnectInterval);
    });
  }

  #out(buffers: Buffer[]): void {
    if (this.#closed) throw new Error("the raw peer is closed");
    if (this.connected) this.#write(this.#socket!, buffers);
    else for (const buffer of buffers) this.#pending.push(buffer);
  }

  #write(socket: Socket, buffers: Buffer[]): void {
    if (buffers.length === 0) return;
    socket.cork();
    for (const buffer of buffers) socket.write(buffer);
    process.nextTick(() => socket.uncork());
  }

  #event(event: RawPeerEvent): void {
    this.#events.record(event);
  }
}
