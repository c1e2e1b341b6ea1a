/**
 * One Pyro5 client connection to a pyro-ts daemon. Requests are answered one at a time, in
 * order, as Pyro5's daemon serves a connection (a Python proxy sends one request and waits);
 * oneway calls run on while the next request is served. Reading pauses while requests are
 * queued or the client does not read its replies, so a peer cannot fill this process's memory.
 *
 * Bad input ends this connection only: before the handshake with CONNECTFAIL saying why, after
 * it silently (both as Pyro5 does), or after an exception reply when the request was readable
 * but not its arguments.
 */
import type { Socket } from "node:net";
import type { ObjectHost } from "../../daemon/object-host.js";
import { MessageTooLargeError } from "../../errors.js";
import { MessageType } from "../wire/constants.js";
import { Pyro5MessageReader } from "../wire/message-reader.js";
import type { Pyro5Message } from "../wire/message.js";
import { answerConnect } from "./handshake.js";
import { answerInvoke, type Answer, type InvocationScope } from "./invocation.js";
import { ItemStreams } from "./item-streams.js";
import { Pyro5DaemonObject } from "./pyro5-daemon-object.js";
import { connectFailure, pongMessage } from "./replies.js";

export interface ServedConnectionOptions {
  /** A peer waited on (no handshake yet, or a message begun) that sends under 64 KiB in this many ms is dropped. */
  readonly stallTimeout: number;
  /** A stream not pulled for this long is ended; 0: never. */
  readonly streamIdleTimeout: number;
  /** Pyro.Daemon.info()'s text. */
  readonly describe: () => string;
}

/** Requests read ahead of the one being answered before reading pauses. */
const MAX_QUEUED = 8;
/** Bytes a waited-on peer must send per stallTimeout (a slowloris sends fewer). */
const MIN_BYTES_PER_STALL = 64 * 1024;
/** How long an ended connection may take to flush its last reply before it is cut. */
const CLOSE_FLUSH_MS = 1000;

/** The reader failed: the bytes that follow can never be read. */
interface Unreadable {
  readonly failure: unknown;
}

export class ServedConnection {
  readonly peerId: string;
  /** Settles when the socket has closed and the daemon was told. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #host: ObjectHost;
  readonly #reader: Pyro5MessageReader;
  readonly #streams: ItemStreams;
  readonly #scope: InvocationScope;
  readonly #queue: Array<Pyro5Message | Unreadable> = [];
  readonly #stallTimer: NodeJS.Timeout;
  #markClosed!: () => void;
  #handshaken = false;
  #busy = false;
  #reading = true;
  /** The daemon is closing: end once the requests read have been answered. */
  #shuttingDown = false;
  #ended = false;
  #writeBlocked = false;
  #bytesSinceCheck = 0;
  #progressed = false;

  constructor(socket: Socket, host: ObjectHost, peerId: string, options: ServedConnectionOptions) {
    this.#socket = socket;
    this.#host = host;
    this.peerId = peerId;
    this.#reader = new Pyro5MessageReader({ maxMessageSize: host.maxMessageSize });
    this.#streams = new ItemStreams(options.streamIdleTimeout);
    const daemonObject = new Pyro5DaemonObject(host, peerId, this.#streams, options.describe);
    this.#scope = { host, peerId, daemonObject, streams: this.#streams };
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    // Errors (a reset) end in "close", where the daemon is told.
    socket.on("error", () => {});
    socket.on("close", () => this.#onClose());
    this.#stallTimer = setInterval(() => this.#checkStall(), options.stallTimeout).unref();
  }

  /**
   * The daemon is closing: requests already read are answered (refused by a closing daemon; a
   * call still running is answered when it ends, or by the daemon past its closeTimeout), then
   * the connection ends. A client that does not read its reply is cut after a moment.
   */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#stopReading();
    if (this.#writeBlocked) this.#cutLater();
    if (!this.#busy && this.#queue.length === 0) this.#end();
  }

  #receive(chunk: Buffer): void {
    if (!this.#reading) return;
    this.#bytesSinceCheck += chunk.length;
    try {
      const messages = this.#reader.push(chunk);
      if (messages.length > 0) this.#progressed = true;
      this.#queue.push(...messages);
    } catch (failure) {
      // Answered in turn, after the requests before it.
      this.#queue.push({ failure });
      this.#stopReading();
    }
    if (this.#queue.length >= MAX_QUEUED) this.#socket.pause();
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#ended) {
        const answer = await this.#answer(this.#queue.shift()!);
        if (answer.reply && !(await this.#write(answer.reply))) return;
        if (answer.close) {
          this.#end();
          return;
        }
      }
      if (this.#shuttingDown) this.#end();
      else if (this.#reading) this.#socket.resume();
    } catch (error) {
      // A fault of this server, not of the peer: reported, and this connection only is dropped.
      this.#host.report(error, "serving a Pyro5 client failed");
      this.#socket.destroy();
    } finally {
      this.#busy = false;
    }
  }

  async #answer(item: Pyro5Message | Unreadable): Promise<Answer> {
    if ("failure" in item) {
      // Pyro5 answers a bad first message with CONNECTFAIL; later it just drops the connection.
      if (this.#handshaken) {
        // A client's request over the limit is worth telling someone (garbage before a handshake is not).
        if (item.failure instanceof MessageTooLargeError) this.#host.report(item.failure, "a Pyro5 client's message was refused and its connection closed");
        return { close: true };
      }
      return { reply: connectFailure(item.failure instanceof Error ? item.failure.message : String(item.failure)), close: true };
    }
    if (!this.#handshaken) {
      const outcome = answerConnect(item, this.#host, this.#scope.daemonObject);
      this.#handshaken = outcome.accepted;
      return outcome.answer;
    }
    switch (item.type) {
      case MessageType.ping:
        return { reply: pongMessage(item) };
      case MessageType.invoke:
        return answerInvoke(this.#scope, item);
      default:
        // Only INVOKE and PING follow the handshake; Pyro5 drops a connection that sends anything else.
        return { close: true };
    }
  }

  /** Writes a reply; waits while the client does not read. False once the connection is gone. */
  async #write(reply: Buffer): Promise<boolean> {
    if (this.#ended || this.#socket.destroyed) return false;
    if (this.#socket.write(reply)) return true;
    this.#writeBlocked = true;
    if (this.#shuttingDown) this.#cutLater();
    return new Promise<boolean>((resolve) => {
      const done = (drained: boolean): void => {
        this.#writeBlocked = false;
        this.#socket.off("drain", onDrain).off("close", onClose);
        resolve(drained);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      this.#socket.on("drain", onDrain).on("close", onClose);
    });
  }

  #stopReading(): void {
    this.#reading = false;
    this.#socket.pause();
  }

  /** Ends gracefully (what was written still leaves), then cuts a peer that does not close in time. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stopReading();
    this.#queue.length = 0;
    this.#socket.end();
    this.#cutLater();
  }

  /** Destroys the socket unless it closed by itself within CLOSE_FLUSH_MS. */
  #cutLater(): void {
    setTimeout(() => this.#socket.destroy(), CLOSE_FLUSH_MS).unref();
  }

  #checkStall(): void {
    const waitedOn = !this.#busy && this.#queue.length === 0 && (!this.#handshaken || this.#reader.pending > 0);
    if (waitedOn && !this.#progressed && this.#bytesSinceCheck < MIN_BYTES_PER_STALL) this.#socket.destroy();
    this.#bytesSinceCheck = 0;
    this.#progressed = false;
  }

  #onClose(): void {
    clearInterval(this.#stallTimer);
    this.#ended = true;
    this.#queue.length = 0;
    this.#streams.clear();
    this.#host.connectionClosed(this.peerId);
    this.#markClosed();
  }
}
