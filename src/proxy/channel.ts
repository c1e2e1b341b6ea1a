import { fromEnvelope } from "../codec/error-envelope.js";
import { decodeValue, encodeValue } from "../codec/values.js";
import { ConnectionClosedError, MessageTooLargeError, ProtocolError, SecurityError, TimeoutError } from "../errors.js";
import { decodeMessage, encodeBatch, isReplyHeader, encodeMessage, exceedsSize, isBatch, messageSize, outgoingSize, peekCorrelationId, splitBatch, type OutFrame } from "../protocol/frames.js";
import type { Payload, RequestMessage } from "../protocol/message.js";
import { dial, type ClientSecurity } from "../transport/open-transport.js";
import type { ClientTransport, SendReceipt, TransportKind } from "../transport/transport.js";
import type { ResolvedTransportOptions } from "../transport/options.js";
import { Signal } from "../signal.js";
import { Subscriptions } from "./subscriptions.js";
import { RemoteStream } from "./remote-stream.js";
import { StreamRefs, type StreamOwner } from "./stream-refs.js";
import { ReceiptReporter } from "./receipt-reporter.js";
import { CallDeadlines } from "./call-deadlines.js";
import { PendingTable } from "./pending-table.js";

type ControlMessage = Extract<RequestMessage, { kind: "heartbeat" | "ack" | "credit" | "cancel" | "received" }>;
type Outgoing = Exclude<RequestMessage, ControlMessage>;
/** A request as built: its `id` is 0 until request() allocates one (present from the start, so setting it changes no object shape). */
type Request = Outgoing;

/** A call waiting for its reply; also the receipt of its send (no closure made per call for that). */
class Pending implements SendReceipt {
  constructor(
    readonly id: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
    /** When the call times out (ms since the epoch; Infinity: never). */
    readonly deadline: number,
    readonly oneway: boolean,
    /** The call's timeout, which also bounds each wait for an item if the result is a stream. */
    readonly timeoutMs: number,
    /** The request, to say in errors what it was. */
    readonly message: Outgoing,
    /** Where a stream this call returns is kept while open (its proxy's, closed with it). */
    readonly streams: StreamOwner | undefined,
    /** Frames not yet handed to the socket (waiting for a connection), or undefined once sent. */
    public frames: OutFrame[] | undefined,
    readonly onSent: (pending: Pending, error: Error | undefined) => void,
  ) {}

  sent(error: Error | undefined): void {
    this.onSent(this, error);
  }
}

const MAX_ID = 0xffff_ffff;

/**
 * The untyped client core: one connection to one daemon endpoint, shared by every proxy
 * to that endpoint. Requests are pipelined with correlation ids; each pending entry has
 * a deadline. Requests made while disconnected wait (within their timeout) and are sent
 * on reconnection; requests already sent when the connection drops are rejected with
 * ConnectionClosedError, since whether the daemon ran them is unknown.
 */
export class Channel {
  readonly endpoint: string;
  readonly #options: ResolvedTransportOptions;
  readonly #socket: ClientTransport;
  readonly #pending = new PendingTable<Pending>();
  readonly #deadlines = new CallDeadlines((now) => this.#expire(now));
  /** Streams open on this connection, by the id of the call that opened each. */
  readonly #streams = new StreamRefs((id) => this.#sendControl({ kind: "cancel", id }));
  readonly #heartbeat: NodeJS.Timeout;
  readonly #receipts = new ReceiptReporter((bytes, messages) => this.#sendControl({ kind: "received", id: 0, bytes, messages }));
  /** Remote signal subscriptions riding on this connection. */
  readonly subscriptions: Subscriptions;
  /** Emits true when a connection to the daemon is made, false when it is lost (after the calls it fails). */
  readonly connection = new Signal<[connected: boolean]>();
  /** Emits when the daemon says it had dropped this connection (its locks, sessions, subscriptions) for silence. */
  readonly reset = new Signal();
  #everConnected = false;
  #securityError: SecurityError | undefined;
  #nextId = 1;
  #lastSent = 0;
  #closed = false;

  constructor(endpoint: string, options: ResolvedTransportOptions, security: ClientSecurity = {}, transport: TransportKind = "zmq") {
    this.endpoint = endpoint;
    this.#options = options;
    this.subscriptions = new Subscriptions({
      subscribe: (object, signal, timeoutMs) => this.request({ kind: "subscribe", id: 0, object, signal }, timeoutMs),
      unsubscribe: (object, signal, timeoutMs) => this.request({ kind: "unsubscribe", id: 0, object, signal }, timeoutMs),
      ack: (seq) => this.#sendControl({ kind: "ack", id: seq }),
    });
    this.#socket = dial(transport, endpoint, options, {
      onConnect: () => {
        this.#securityError = undefined;
        this.#receipts.reset();
        this.#flushWaiting();
        if (this.#everConnected) this.subscriptions.onReconnect();
        this.#everConnected = true;
        this.connection.emit(true);
      },
      onDisconnect: () => {
        this.#connectionLost();
        this.subscriptions.onDisconnect();
        this.connection.emit(false);
      },
      onMessage: (frames) => this.#receive(frames),
      onConnectFailed: () => {
        // Never connected yet: nothing listens there. Fail now, as Pyro does, rather than at the
        // timeout. (Once connected, calls wait for the reconnection within their timeouts.)
        if (this.#everConnected) return;
        const error = new ConnectionClosedError(`cannot connect to ${this.endpoint}: nothing answers there`);
        for (const [id, pending] of this.#pending.entries()) if (pending.frames) this.#fail(id, error);
      },
      onSecurityError: (error) => {
        // Every call would wait for a handshake that keeps failing: fail them now, and new ones at once.
        this.#securityError = error;
        for (const [id] of this.#pending.entries()) this.#fail(id, error);
      },
    }, encodeBatch, security);
    // Tells the daemon this connection is alive while idle (it drops silent peers' sessions).
    // Checked twice per interval so that no silence lasts much beyond one interval.
    this.#heartbeat = setInterval(() => this.#sendHeartbeat(), Math.max(1, Math.floor(options.heartbeatInterval / 2))).unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether messages can flow to the daemon now. */
  get connected(): boolean {
    return !this.#closed && this.#socket.connected;
  }

  /**
   * Calls a method by name, untyped: what the typed proxy and the CLI are built on.
   * `lock`: the token of the calling proxy's lock of `object`, when it holds one.
   */
  invoke(object: string, member: string, args: readonly unknown[], timeoutMs: number, oneway = false, lock?: string, streams?: StreamOwner): Promise<unknown> {
    return this.#encoding(() => ({ kind: "call", id: 0, oneway, object, member, args: encodeValue(args), lock }), timeoutMs, streams);
  }

  /** Reads an attribute by name. */
  get(object: string, member: string, timeoutMs: number, lock?: string): Promise<unknown> {
    return this.request({ kind: "get", id: 0, object, member, lock }, timeoutMs);
  }

  /** Writes an attribute by name. */
  async set(object: string, member: string, value: unknown, timeoutMs: number, lock?: string): Promise<void> {
    await this.#encoding(() => ({ kind: "set", id: 0, object, member, value: encodeValue(value), lock }), timeoutMs);
  }

  #encoding(build: () => Request, timeoutMs: number, streams?: StreamOwner): Promise<unknown> {
    let request: Request;
    try {
      request = build();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.request(request, timeoutMs, streams);
  }

  /**
   * Sends one request; resolves with the decoded reply value (oneway: once sent), or with a
   * RemoteStream when the daemon streams the result (kept in `streams` while open).
   */
  request(request: Request, timeoutMs: number, streams?: StreamOwner): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError(`connection to ${this.endpoint} is closed`));
    if (this.#securityError && !this.#socket.connected) return Promise.reject(this.#securityError);
    const id = this.#allocateId();
    // The id is set on the request itself (built with id 0): a spread would copy it.
    (request as { id: number }).id = id;
    const message = request;
    let frames: OutFrame[];
    try {
      frames = encodeMessage(message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (exceedsSize(frames, this.#options.maxMessageSize)) {
      return Promise.reject(new MessageTooLargeError(`message of ${outgoingSize(frames)} bytes exceeds the maximum of ${this.#options.maxMessageSize}`));
    }
    const oneway = message.kind === "call" && message.oneway;
    if (oneway && this.#socket.connected) {
      // Nothing to wait for but the socket: no pending entry, no timer.
      this.#lastSent = Date.now();
      return new Promise((resolve, reject) => this.#socket.send(frames, { sent: (error) => (error ? reject(error) : resolve(undefined)) }));
    }
    return new Promise((resolve, reject) => {
      const now = Date.now();
      const deadline = timeoutMs > 0 && Number.isFinite(timeoutMs) ? now + timeoutMs : Infinity;
      const pending = new Pending(id, resolve, reject, deadline, oneway, timeoutMs, message, streams, frames, this.#sent);
      this.#pending.set(id, pending);
      this.#deadlines.add(deadline);
      if (this.#socket.connected) this.#send(pending, now);
    });
  }

  /** Rejects everything pending and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#deadlines.stop();
    const closed = new ConnectionClosedError(`connection to ${this.endpoint} was closed`);
    for (const [id] of this.#pending.entries()) this.#fail(id, closed);
    this.#failStreams(closed);
    await this.#socket.close();
  }

  #allocateId(): number {
    // Skip ids still pending after a wrap-around (a very long call).
    do {
      const id = this.#nextId;
      this.#nextId = id === MAX_ID ? 1 : id + 1;
      if (!this.#pending.has(id) && !this.#streams.has(id)) return id;
    } while (true);
  }

  #send(pending: Pending, now = Date.now()): void {
    const frames = pending.frames!;
    pending.frames = undefined;
    this.#lastSent = now;
    this.#socket.send(frames, pending);
  }

  /** A call's frames left (a oneway call is then done), or could not. */
  readonly #sent = (pending: Pending, error: Error | undefined): void => {
    if (error) this.#fail(pending.id, error);
    else if (pending.oneway) this.#settle(pending.id, undefined);
  };

  #flushWaiting(): void {
    for (const [, pending] of this.#pending.entries()) if (pending.frames) this.#send(pending);
  }

  #connectionLost(): void {
    for (const [id, pending] of this.#pending.entries()) {
      if (!pending.frames) this.#fail(id, new ConnectionClosedError(`connection to ${this.endpoint} was lost while ${pending.oneway ? "sending" : "waiting for a reply"}`));
    }
    this.#failStreams(new ConnectionClosedError(`connection to ${this.endpoint} was lost during the stream`));
  }

  /** Streams live on one connection: when the daemon loses it (or drops it), they end. */
  #failStreams(error: Error): void {
    for (const stream of this.#streams.clear()) stream.fail(error);
  }

  /** Flow control and the like: sent only while connected (the daemon forgets a lost connection's state), never answered. */
  #sendControl(message: ControlMessage): void {
    if (this.#socket.connected) this.#socket.send(encodeMessage(message));
  }

  #sendHeartbeat(): void {
    if (!this.#socket.connected || Date.now() - this.#lastSent < this.#options.heartbeatInterval / 2) return;
    this.#lastSent = Date.now();
    this.#socket.send(encodeMessage({ kind: "heartbeat", id: 0 }));
  }

  #receive(frames: Buffer[]): void {
    if (isBatch(frames)) {
      let messages: Buffer[][];
      try {
        messages = splitBatch(frames);
      } catch {
        return; // a daemon that sends broken batches: nothing in it can be matched to a call
      }
      for (const message of messages) this.#receiveOne(message);
      return;
    }
    this.#receiveOne(frames);
  }

  #receiveOne(frames: Buffer[]): void {
    const size = messageSize(frames);
    this.#receipts.received(size);
    if (size > this.#options.maxMessageSize) {
      this.#failReply(frames, new MessageTooLargeError(`reply exceeds the maximum message size of ${this.#options.maxMessageSize}`));
      return;
    }
    let message;
    try {
      message = decodeMessage(frames);
    } catch (error) {
      this.#failReply(frames, error instanceof Error ? error : new ProtocolError(String(error)));
      return;
    }
    if (message.kind === "event") {
      this.subscriptions.onEvent(message);
      return;
    }
    if (message.kind === "reset") {
      // The daemon forgot us while we were silent: as after a reconnect. It counts what it
      // sends from this message on.
      this.#receipts.reset();
      this.#receipts.received(size);
      this.subscriptions.onDisconnect();
      this.subscriptions.onReconnect();
      this.#failStreams(new ConnectionClosedError(`the daemon at ${this.endpoint} had dropped this connection, and its streams`));
      this.reset.emit();
      return;
    }
    if (message.kind === "item") {
      this.#streams.get(message.id)?.push(message.value, size);
      return;
    }
    if (message.kind === "stream") {
      this.#startStream(message.id, message.window, message.windowBytes);
      return;
    }
    if (message.kind !== "result" && message.kind !== "error") return;
    if (!this.#pending.has(message.id)) {
      this.#endStream(message.id, message.kind === "result" ? undefined : message.value);
      // Else a reply to a request that already timed out: dropped.
      return;
    }
    try {
      const value = decodeValue(message.value);
      if (message.kind === "result") this.#settle(message.id, value);
      else this.#fail(message.id, fromEnvelope(value));
    } catch (error) {
      this.#fail(message.id, error as Error);
    }
  }

  /** The result of pending call `id` is a stream: the call resolves with its RemoteStream. */
  #startStream(id: number, window: number, windowBytes: number): void {
    const pending = this.#pending.get(id);
    if (!pending || pending.oneway) {
      // A stream nobody waits for (the call timed out): the daemon stops it.
      this.#sendControl({ kind: "cancel", id });
      return;
    }
    const stream = new RemoteStream({
      credit: (items) => {
        this.#sendControl({ kind: "credit", id, items });
      },
      cancel: () => {
        if (this.#streams.get(id) !== stream) return;
        this.#streams.delete(id);
        this.#sendControl({ kind: "cancel", id });
      },
      what: describe(pending.message),
      timeout: pending.timeoutMs,
    }, window, windowBytes);
    this.#streams.add(id, stream, pending.streams);
    this.#settle(id, stream);
  }

  /** The daemon ended stream `id`: with a return value, or with an error envelope. */
  #endStream(id: number, error: Payload | undefined): void {
    const stream = this.#streams.delete(id);
    if (!stream) return;
    if (error === undefined) {
      stream.finish();
      return;
    }
    try {
      stream.fail(fromEnvelope(decodeValue(error)));
    } catch (decodeError) {
      stream.fail(decodeError as Error);
    }
  }

  /** Fails the call a broken reply answers. Other kinds carry ids of their own (an event's is a sequence number). */
  #failReply(frames: readonly Buffer[], error: Error): void {
    if (!isReplyHeader(frames[0])) return;
    const id = peekCorrelationId(frames);
    if (id !== undefined) this.#fail(id, error);
  }

  #settle(id: number, value: unknown): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.resolve(value);
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.reject(error);
  }

  /** Fails the calls past their deadline; returns the earliest deadline of the others. */
  #expire(now: number): number {
    let next = Infinity;
    for (const [id, pending] of this.#pending.entries()) {
      if (pending.deadline <= now) this.#fail(id, new TimeoutError(`no reply to ${describe(pending.message)} within ${pending.timeoutMs} ms`));
      else if (pending.deadline < next) next = pending.deadline;
    }
    return next;
  }
}

function describe(message: Outgoing): string {
  return `${message.kind} ${message.object}.${"member" in message ? message.member : message.signal}`;
}
