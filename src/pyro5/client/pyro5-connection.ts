/**
 * One connection to a Pyro5 daemon, bound to one object by its handshake. Pyro5 serves a
 * connection one request at a time (its worker reads the next message only after replying),
 * so this class has at most one request in flight; the pool gives concurrency.
 */
import { connect as netConnect, type Socket } from "node:net";
import { CommunicationError, ConnectionClosedError, ProtocolError, TimeoutError } from "../../errors.js";
import type { Location } from "../../uri.js";
import { Flag, MessageType } from "../wire/constants.js";
import { encodePyro5Message, type Pyro5Message } from "../wire/message.js";
import { Pyro5MessageReader } from "../wire/message-reader.js";
import { serializerById, type Pyro5Serializer } from "../wire/serializer.js";
import { metadataOf, type Pyro5Metadata } from "./pyro5-metadata.js";

export interface Pyro5ConnectionOptions {
  readonly serializer: Pyro5Serializer;
  readonly maxMessageSize: number;
  /** How long connecting and the handshake may take, in ms. */
  readonly connectTimeout: number;
  /** What the daemon's validateHandshake() sees. Default "hello", as Python's proxy sends. */
  readonly handshake?: unknown;
}

/** A request as the connection sends it: the seq is the connection's. */
export interface Pyro5Request {
  readonly type: number;
  readonly flags: number;
  readonly payload: Buffer;
}

interface InFlight {
  readonly seq: number;
  readonly resolve: (message: Pyro5Message) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

/** How long a closed connection may take to flush what was written before it is destroyed. */
const LINGER_MS = 1000;

function where(location: Location): string {
  return location.transport === "ipc" ? `./u:${location.path}` : `${location.host}:${location.port}`;
}

export class Pyro5Connection {
  readonly #socket: Socket;
  readonly #reader: Pyro5MessageReader;
  readonly #serializer: Pyro5Serializer;
  readonly #where: string;
  #seq = 0;
  #inFlight: InFlight | undefined;
  #closed: Error | undefined;
  readonly #closeListeners = new Set<(error: Error) => void>();

  private constructor(socket: Socket, location: Location, options: Pyro5ConnectionOptions) {
    this.#socket = socket;
    this.#serializer = options.serializer;
    this.#where = where(location);
    this.#reader = new Pyro5MessageReader({ maxMessageSize: options.maxMessageSize });
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", (error) => this.#fail(new ConnectionClosedError(`connection to ${this.#where} failed: ${error.message}`, { cause: error })));
    socket.on("close", () => this.#fail(new ConnectionClosedError(`connection to ${this.#where} was closed by the daemon`)));
  }

  /** Connects and shakes hands for `objectId`; resolves with the object's metadata. */
  static async open(location: Location, objectId: string, options: Pyro5ConnectionOptions): Promise<{ connection: Pyro5Connection; metadata: Pyro5Metadata | undefined }> {
    const socket = location.transport === "ipc" ? netConnect({ path: location.path }) : netConnect({ host: location.host, port: location.port });
    const connection = new Pyro5Connection(socket, location, options);
    const connected = new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      connection.#closeListeners.add(reject);
    });
    const timer = setTimeout(() => connection.close(new TimeoutError(`connecting to ${connection.#where} took longer than ${options.connectTimeout} ms`)), options.connectTimeout);
    try {
      await connected;
      // CONNECT goes with the current seq, not a new one (Pyro5's proxy does the same).
      const payload = options.serializer.encode({ handshake: options.handshake ?? "hello", object: objectId });
      const reply = await connection.#send({ type: MessageType.connect, flags: 0, payload }, connection.#seq, options.connectTimeout);
      return { connection, metadata: connection.#handshakeAnswer(reply, objectId) };
    } catch (error) {
      connection.close(error instanceof Error ? error : new ProtocolError(String(error)));
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Whether a request is in flight: the pool gives this connection nothing more until it ends. */
  get busy(): boolean {
    return this.#inFlight !== undefined;
  }

  /** Sends a request and resolves with its reply; a timeout closes the connection (a late reply would be out of sequence). */
  request(request: Pyro5Request, timeoutMs: number): Promise<Pyro5Message> {
    this.#seq = (this.#seq + 1) & 0xffff;
    return this.#send(request, this.#seq, timeoutMs);
  }

  /** Sends a oneway request: nothing comes back, so the connection is free again at once. */
  sendOneway(request: Pyro5Request): void {
    if (this.#closed) throw this.#closed;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#socket.write(encodePyro5Message({ type: request.type, serializerId: this.#serializer.id, flags: request.flags | Flag.oneway, seq: this.#seq, payload: request.payload }));
  }

  /** Called once when the connection ends, with why. */
  onClose(listener: (error: Error) => void): void {
    if (this.#closed) listener(this.#closed);
    else this.#closeListeners.add(listener);
  }

  /** Closes the connection; without a reason (a proxy closed) what was written still goes out first. */
  close(reason?: Error): void {
    if (reason === undefined && !this.#closed) {
      // A oneway close_stream just written must reach the daemon: end, do not destroy.
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
    }
    this.#fail(reason ?? new ConnectionClosedError(`connection to ${this.#where} was closed`), reason !== undefined);
  }

  #send(request: Pyro5Request, seq: number, timeoutMs: number): Promise<Pyro5Message> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#inFlight) return Promise.reject(new ProtocolError("a Pyro5 connection serves one request at a time"));
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => this.close(new TimeoutError(`no reply from ${this.#where} within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
      this.#inFlight = { seq, resolve, reject, timer };
      this.#socket.write(encodePyro5Message({ type: request.type, serializerId: this.#serializer.id, flags: request.flags, seq, payload: request.payload }));
    });
  }

  #receive(chunk: Buffer): void {
    let messages: Pyro5Message[];
    try {
      messages = this.#reader.push(chunk);
    } catch (error) {
      this.close(error instanceof Error ? error : new ProtocolError(String(error)));
      return;
    }
    for (const message of messages) {
      const inFlight = this.#inFlight;
      if (!inFlight) return this.close(new ProtocolError(`${this.#where} sent a message nobody asked for (seq ${message.seq})`));
      if (message.seq !== inFlight.seq) return this.close(new ProtocolError(`reply sequence out of sync: expected ${inFlight.seq}, got ${message.seq}`));
      this.#inFlight = undefined;
      clearTimeout(inFlight.timer);
      inFlight.resolve(message);
    }
  }

  #handshakeAnswer(reply: Pyro5Message, objectId: string): Pyro5Metadata | undefined {
    // CONNECTFAIL may come in another serializer (marshal when the CONNECT itself was unreadable).
    const serializer = serializerById(reply.serializerId);
    if (reply.type === MessageType.connectFail) {
      const reason = serializer ? safeDecode(serializer, reply.payload) : `(reason in serializer ${reply.serializerId})`;
      throw new CommunicationError(`connection to ${this.#where} rejected: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`);
    }
    if (reply.type !== MessageType.connectOk) throw new ProtocolError(`expected CONNECTOK from ${this.#where}, got message type ${reply.type}`);
    if (!serializer) throw new ProtocolError(`${this.#where} answered the handshake in unknown serializer ${reply.serializerId}`);
    return metadataOf(serializer.decode(reply.payload), `${objectId} at ${this.#where}`);
  }

  #fail(error: Error, destroy = true): void {
    if (this.#closed) return;
    this.#closed = error;
    if (destroy) this.#socket.destroy();
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    if (inFlight) {
      clearTimeout(inFlight.timer);
      inFlight.reject(error);
    }
    for (const listener of this.#closeListeners) listener(error);
    this.#closeListeners.clear();
  }
}

function safeDecode(serializer: Pyro5Serializer, payload: Buffer): unknown {
  try {
    return serializer.decode(payload);
  } catch {
    return payload.toString("latin1");
  }
}
