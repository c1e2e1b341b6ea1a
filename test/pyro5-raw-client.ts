/**
 * A raw Pyro5 peer over node:net for the server tests: sends whatever bytes it is given
 * (well-formed messages built with the wire codec, or garbage), reads replies with the
 * codec's reader, and tells when the server closed the connection. Every wait is bounded.
 */
import { connect, type Socket } from "node:net";
import { Flag, MessageType, SerializerId } from "../src/pyro5/wire/constants.js";
import { encodePyro5Message, type OutgoingPyro5Message, type Pyro5Message } from "../src/pyro5/wire/message.js";
import { Pyro5MessageReader } from "../src/pyro5/wire/message-reader.js";
import { jsonSerializer, serializerById } from "../src/pyro5/wire/serializer.js";

const WAIT_MS = 3000;

export class RawPyro5Client {
  readonly #socket: Socket;
  readonly #reader = new Pyro5MessageReader({ maxMessageSize: 1024 ** 3 });
  readonly #messages: Pyro5Message[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly closed: Promise<void>;
  #seq = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    void this.closed.then(() => {
      this.#closed = true;
      this.#wake?.();
    });
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      try {
        this.#messages.push(...this.#reader.push(chunk));
      } catch {
        socket.destroy();
      }
      this.#wake?.();
    });
  }

  static open(port: number, host = "127.0.0.1"): Promise<RawPyro5Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once("connect", () => resolve(new RawPyro5Client(socket)));
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(bytes: Buffer | string): void {
    this.#socket.write(bytes);
  }

  message(message: Omit<OutgoingPyro5Message, "seq"> & { seq?: number }): Buffer {
    return encodePyro5Message({ ...message, seq: message.seq ?? ++this.#seq });
  }

  /** The next message from the server; rejects when the connection closes first or nothing comes within `ms`. */
  async next(ms = WAIT_MS): Promise<Pyro5Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const message = this.#messages.shift();
      if (message) return message;
      if (this.#closed) throw new Error("the server closed the connection");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Whether the server closed the connection within `ms`. */
  async closesWithin(ms = WAIT_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(timer);
    return closed;
  }

  /** Sends CONNECT for `object`; resolves with the answer. */
  async handshake(object: string, serializerId: number = SerializerId.json): Promise<Pyro5Message> {
    const serializer = serializerById(serializerId) ?? jsonSerializer;
    this.send(this.message({ type: MessageType.connect, serializerId, payload: serializer.encode({ handshake: "hello", object }) }));
    return this.next();
  }

  /** Sends an INVOKE (json unless told); resolves with the reply (not for oneway). */
  invokeMessage(object: string, method: string, params: unknown[], options: { flags?: number; kwargs?: Record<string, unknown>; seq?: number; correlationId?: Buffer } = {}): Buffer {
    const payload = jsonSerializer.encode({ object, method, params, kwargs: options.kwargs ?? {} });
    return this.message({ type: MessageType.invoke, serializerId: SerializerId.json, flags: options.flags ?? 0, seq: options.seq, correlationId: options.correlationId, payload });
  }

  async invoke(object: string, method: string, params: unknown[], options: { flags?: number; kwargs?: Record<string, unknown> } = {}): Promise<{ message: Pyro5Message; value: unknown; exception: boolean }> {
    this.send(this.invokeMessage(object, method, params, options));
    const message = await this.next();
    return { message, value: jsonSerializer.decode(message.payload), exception: (message.flags & Flag.exception) !== 0 };
  }

  /** Stops reading (a client that does not read its replies). */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
