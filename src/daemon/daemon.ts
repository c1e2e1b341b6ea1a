import { randomBytes } from "node:crypto";
import { decodeValue } from "../codec/values.js";
import { DaemonError, LimitExceededError, MessageTooLargeError, UnknownMemberError } from "../errors.js";
import { isSignal, Signal } from "../signal.js";
import { decodeMessage, encodeMessage, isBatch, messageSize, peekCorrelationId, peekOneway, splitBatch } from "../protocol/frames.js";
import type { CallMessage, GetMessage, SetMessage, SubscribeMessage, UnsubscribeMessage } from "../protocol/message.js";
import { HIGH_WATER_MARK, positiveInteger, resolveTransportOptions, type ResolvedTransportOptions } from "../transport/options.js";
import type { ServerTransport, TransportKind } from "../transport/transport.js";
import type { Location } from "../uri.js";
import { Listeners } from "./listeners.js";
import { runInCallContext, ServedCall } from "./call-context.js";
import { DAEMON_OBJECT_ID, DaemonObject } from "./daemon-object.js";
import { dispatch, type Request } from "./dispatch.js";
import type { ExposedShape } from "./introspect.js";
import { LockTable } from "./locks.js";
import { PeerTracker } from "./peers.js";
import { SignalHub } from "./signal-hub.js";
import { Registry } from "./registry.js";
import { resultFrames } from "./reply-frames.js";
import { isStreamable } from "./outgoing-stream.js";
import { StreamResult, StreamTable } from "./stream-table.js";
import { Outbound } from "./outbound.js";
import { CallsInProgress, Unanswered } from "./calls-in-progress.js";
import { FrontConnections } from "./front-connections.js";
import { DaemonObjectHost, type ObjectHost } from "./object-host.js";
import type { DaemonOptions } from "./daemon-options.js";

export type { DaemonOptions };

/** How an object is registered in the daemon. Names in the nameserver belong to the naming layer's Daemon. */
export interface RegisterOptions {
  /** Object id in this daemon; generated when omitted. */
  readonly id?: string;
}

/** Where a daemon is in its life; subclasses read it through `state`. */
export type DaemonState = "created" | "running" | "closing" | "closed";

/** A fresh object id, for objects registered without one. */
export function newObjectId(): string {
  return `obj_${randomBytes(12).toString("hex")}`;
}

type ObjectRequest = CallMessage | GetMessage | SetMessage | SubscribeMessage | UnsubscribeMessage;

const defaultOnError = (error: unknown, context: string): void => {
  process.emitWarning(`${context}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, "PyroDaemonWarning");
};

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

/** A request's value is ready: a streamable result of a call keeps its instance (`done`) until the stream ends. */
function finished(message: ObjectRequest, served: ServedCall, done: () => void, value: unknown): unknown {
  if (message.kind === "call" && isStreamable(value)) return new StreamResult(value, served, done);
  done();
  return value;
}

function signalOf(objectId: string, instance: object, shape: ExposedShape, name: string): Signal<unknown[]> {
  const signal: unknown = shape.signals.has(name) ? (instance as Record<string, unknown>)[name] : undefined;
  if (!isSignal(signal)) throw new UnknownMemberError(`${JSON.stringify(objectId)} has no exposed signal ${JSON.stringify(name)}`);
  return signal;
}

/**
 * Serves registered objects on one ROUTER socket. Bound when constructed, so URIs
 * (with the real port when port 0 was asked) are known before `start()`.
 * It knows nothing of the nameserver: the naming layer's Daemon (named-daemon.ts) extends it
 * through the protected hooks below, so this layer never imports that one.
 */
export class Daemon {
  readonly #listeners: Listeners;
  /**
   * Emits a connection's `peerId` (as `callContext().peerId` told its calls) once each time the
   * daemon lets it go: after heartbeatTimeout of silence (a client killed, a cable pulled), and
   * on close() for the connections still open. Its locks, subscriptions and streams are gone
   * by then, and its session instances disposed (possibly still running) — unless streams of
   * it had generators to stop: then after their cleanup (within closeTimeout).
   */
  readonly clientDisconnected = new Signal<[peerId: string]>();
  readonly #options: ResolvedTransportOptions;
  readonly #socket: ServerTransport;
  readonly #registry: Registry;
  readonly #locks = new LockTable();
  readonly #peers: PeerTracker;
  readonly #signals: SignalHub;
  readonly #streams: StreamTable;
  readonly #closeTimeout: number;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #calls = new CallsInProgress();
  /** Whether the message being received started a call that answers from a promise callback. */
  #answersLater = false;
  readonly #out: Outbound;
  readonly #maxCallsPerConnection: number;
  readonly #maxConnections: number;
  readonly #maxStreams: number;
  /** Connections and streams of protocol fronts (objectHost()), counted and stopped with the daemon's own. */
  readonly #fronts = new FrontConnections();
  #state: DaemonState = "created";

  constructor(options: DaemonOptions = {}) {
    this.#options = resolveTransportOptions(options);
    this.#closeTimeout = options.closeTimeout ?? 10_000;
    this.#maxCallsPerConnection = positiveInteger("maxCallsPerConnection", options.maxCallsPerConnection, 10_000);
    this.#maxConnections = positiveInteger("maxConnections", options.maxConnections, 10_000);
    // Checked before binding, so a bad value leaves no socket behind.
    const maxSubscriptions = positiveInteger("maxSubscriptionsPerConnection", options.maxSubscriptionsPerConnection, 1000);
    const maxOutgoingBytes = positiveInteger("maxOutgoingBytes", options.maxOutgoingBytes, 64 * 1024 * 1024);
    // Counters run modulo 2^32: differences stay right far below that.
    if (maxOutgoingBytes > 1024 ** 3) throw new RangeError(`maxOutgoingBytes must be at most 1 GiB, got ${maxOutgoingBytes}`);
    this.#maxStreams = positiveInteger("maxStreamsPerConnection", options.maxStreamsPerConnection, 100);
    this.#streams = new StreamTable({
      maxPerConnection: this.#maxStreams,
      window: positiveInteger("streamWindow", options.streamWindow, 1024),
      windowBytes: positiveInteger("streamWindowBytes", options.streamWindowBytes, 32 * 1024 * 1024),
      maxMessageSize: this.#options.maxMessageSize,
      reply: (peer, peerId, frames) => this.#out.reply(peer, peerId, frames),
      push: (peer, peerId, frames) => this.#out.push(peer, peerId, frames),
      report: (error, context) => this.#onError(error, context),
    });
    this.#onError = options.onError ?? defaultOnError;
    this.#registry = new Registry(this.#onError);
    this.#listeners = new Listeners(options, this.#options);
    this.#socket = this.#listeners.server;
    this.#out = new Outbound(this.#socket, { maxBytes: maxOutgoingBytes, maxMessages: HIGH_WATER_MARK / 2, maxMessageSize: this.#options.maxMessageSize }, this.#onError);
    this.#signals = new SignalHub({
      window: options.eventWindow ?? 1000,
      capacity: options.maxQueuedEvents ?? 10_000,
      maxPerConnection: maxSubscriptions,
      send: (peer, peerId, frames) => this.#out.push(peer, peerId, frames),
      onError: this.#onError,
    });
    this.#peers = new PeerTracker(this.#options.heartbeatTimeout, (peerId) => this.#dropPeer(peerId), (peerId) => this.#calls.of(peerId) > 0);
    this.#registry.add(new DaemonObject(this.#registry, this.#locks, () => this.#describe()), DAEMON_OBJECT_ID);
  }

  /** Registers an instance, or a class to be instantiated per its `@behavior`; returns its URI. */
  register(target: object, idOrOptions?: string | RegisterOptions): string {
    if (this.#state === "closing" || this.#state === "closed") throw new DaemonError("daemon is closed");
    const objectId = (typeof idOrOptions === "string" ? idOrOptions : idOrOptions?.id) ?? newObjectId();
    // Throws first when no URI can be given yet (a TCP daemon on port 0 before start): no half registration.
    this.#listeners.location();
    this.#registry.add(target, objectId);
    return this.uriFor(objectId);
  }

  /** Removes an object (by id or the registered object itself); returns whether it was registered. */
  unregister(idOrTarget: string | object): boolean {
    if (idOrTarget === DAEMON_OBJECT_ID) throw new DaemonError("the daemon object cannot be unregistered");
    const removed = this.#registry.remove(idOrTarget);
    if (removed === undefined) return false;
    this.#signals.dropObject(removed);
    this.#locks.releaseObject(removed);
    this.objectRemoved(removed);
    return true;
  }

  /** The URI of a registered object (by id or the object itself), over `transport` (default: the primary one). */
  uriFor(idOrTarget: string | object, transport?: TransportKind): string {
    const id = typeof idOrTarget === "string" ? idOrTarget : this.#registry.idOf(idOrTarget);
    if (id === undefined || !this.#registry.has(id)) throw new DaemonError("object is not registered in this daemon");
    return this.#listeners.uri(id, transport);
  }

  /** Ids of every registered object, the daemon object included. */
  registered(): string[] {
    return this.#registry.ids();
  }

  /** Where the daemon is reached, as its URIs say (a TCP daemon on port 0 knows it once started). */
  get location(): Location {
    return this.#listeners.location();
  }

  /** Starts serving, then runs afterStart(); if that fails the daemon closes and start() fails. */
  async start(): Promise<void> {
    if (this.#state !== "created") throw new DaemonError(`daemon cannot start: it is ${this.#state}`);
    this.#state = "running";
    try {
      await this.#socket.ready;
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#peers.start(Math.max(50, Math.floor(this.#options.heartbeatInterval / 2)));
    this.#socket.start(
      (peer, peerId, frames) => this.#receive(peer, peerId, frames),
      (_peer, peerId) => {
        // While closing, close() drops every peer itself, once their streams' generators are done.
        if (this.#state === "running" && this.#peers.closed(peerId)) this.#dropPeer(peerId);
      },
    );
    try {
      await this.afterStart();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Refuses new calls, lets calls in progress finish (up to closeTimeout), then closes the socket. */
  async close(): Promise<void> {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.#state = "closing";
    await this.beforeClose();
    // Streams may never end by themselves: their clients learn now, their generators stop.
    this.#streams.abandonAll(new DaemonError("the daemon was closed during the stream"));
    this.#fronts.abandonAll(new DaemonError("the daemon was closed during the stream"));
    await this.#calls.idle(this.#closeTimeout);
    this.#signals.clear();
    // Calls still running past closeTimeout: their callers learn why now, while the socket can
    // still tell them, rather than a connection lost; their late results are dropped.
    const late = (): DaemonError => new DaemonError("the daemon was closed before the call finished");
    for (const call of this.#calls.abandon()) if (call.answer) call.answer(late()); else this.#out.error(call.peer, call.peerId, call.id, late());
    this.#out.silence();
    await this.#socket.close();
    // Generators clean up (their finally) before the instances they use are disposed.
    await Promise.all([this.#streams.finished(this.#closeTimeout), this.#fronts.finished(this.#closeTimeout)]);
    for (const peerId of this.#peers.stop()) this.#dropPeer(peerId);
    this.#registry.clear();
    await this.#registry.disposed(this.#closeTimeout);
    this.#state = "closed";
  }

  /**
   * For protocol fronts (the Pyro5 server): this daemon's objects with its rules and limits, for
   * clients of another wire protocol. `prefix` starts the peer ids of that front's connections.
   */
  objectHost(prefix: string): ObjectHost {
    return new DaemonObjectHost(prefix, {
      maxMessageSize: this.#options.maxMessageSize, maxStreamsPerConnection: this.#maxStreams, maxCallsPerConnection: this.#maxCallsPerConnection,
      maxConnections: this.#maxConnections, registry: this.#registry, locks: this.#locks, calls: this.#calls, fronts: this.#fronts,
      clientDisconnected: this.clientDisconnected, running: () => this.#state === "running", ownConnections: () => this.#peers.size,
      describe: () => this.#describe(), report: (error, context) => this.#onError(error, context),
    });
  }

  /** For subclasses: whether to act now (running) or at start, and to leave a closed daemon alone. */
  protected get state(): DaemonState {
    return this.#state;
  }

  /** Hook: serving has begun (state "running"). A rejection closes the daemon and fails start(). */
  protected async afterStart(): Promise<void> {}

  /** Hook: close() has begun (state "closing"); runs before calls in progress are awaited. */
  protected async beforeClose(): Promise<void> {}

  /** Hook: an object was unregistered (not called for the objects close() drops). */
  protected objectRemoved(_objectId: string): void {}

  /** Reports what cannot be thrown to a caller, through the `onError` option. */
  protected reportError(error: unknown, context: string): void {
    this.#onError(error, context);
  }

  #describe(): string {
    return `pyro-ts daemon on ${this.#listeners.uri(DAEMON_OBJECT_ID)}, ${this.#registry.ids().length} object(s), ${this.#peers.size + this.#fronts.size} connection(s)`;
  }

  /** The connection is gone: its subscriptions, session instances and locks go with it, then listeners are told. */
  #dropPeer(peerId: string): void {
    const streamsStopped = this.#streams.dropPeer(peerId, this.#closeTimeout);
    this.#signals.dropPeer(peerId);
    // A generator cleans up (its finally) before the session instance it uses is disposed.
    if (streamsStopped) void streamsStopped.then(() => this.#registry.endSession(peerId));
    else this.#registry.endSession(peerId);
    this.#locks.releasePeer(peerId);
    this.#out.drop(peerId);
    this.clientDisconnected.emit(peerId);
  }

  /** Returns whether the message started work that answers from a promise callback (see ServerMessageHandler). */
  #receive(peer: Buffer, peerId: string, frames: Buffer[]): boolean {
    this.#answersLater = false;
    if (!this.#peers.has(peerId) && this.#peers.size + this.#fronts.size >= this.#maxConnections) {
      // Not tracked, so it holds nothing here; it may try again when others have gone.
      if (!peekOneway(frames)) this.#out.error(peer, undefined, peekCorrelationId(frames) ?? 0, new LimitExceededError(`this daemon serves ${this.#maxConnections} connections, the most it may`));
      return false;
    }
    // A connection we dropped for silence (its process stalled) is alive after all: tell it.
    if (this.#peers.seen(peerId)) this.#out.reply(peer, peerId, encodeMessage({ kind: "reset", id: 0 }));
    if (isBatch(frames)) {
      let messages: Buffer[][];
      try {
        messages = splitBatch(frames);
      } catch (error) {
        this.#out.error(peer, peerId, 0, error);
        return false;
      }
      // Each message of a batch is held to the size limit on its own, and answered on its own.
      for (const message of messages) this.#receiveOne(peer, peerId, message);
    } else this.#receiveOne(peer, peerId, frames);
    return this.#answersLater;
  }

  #receiveOne(peer: Buffer, peerId: string, frames: Buffer[]): void {
    const oneway = peekOneway(frames);
    const size = messageSize(frames);
    if (size > this.#options.maxMessageSize) {
      const error = new MessageTooLargeError(`message of ${size} bytes exceeds the maximum of ${this.#options.maxMessageSize}`);
      if (oneway) this.#onError(error, "a oneway call was dropped");
      else this.#out.error(peer, peerId, peekCorrelationId(frames) ?? 0, error);
      return;
    }
    let message;
    try {
      message = decodeMessage(frames);
    } catch (error) {
      if (oneway) this.#onError(error, "a oneway call was dropped");
      else this.#out.error(peer, peerId, peekCorrelationId(frames) ?? 0, error);
      return;
    }
    switch (message.kind) {
      case "heartbeat":
        return;
      case "ack":
        this.#signals.ack(peerId, message.id);
        return;
      case "credit":
        this.#streams.credit(peerId, message.id, message.items);
        return;
      case "cancel":
        this.#streams.cancel(peerId, message.id);
        return;
      case "received":
        if (this.#out.confirm(peerId, message.bytes, message.messages)) {
          this.#signals.resume(peerId);
          this.#streams.resume(peerId);
        }
        return;
      case "call":
      case "get":
      case "set":
      case "subscribe":
      case "unsubscribe":
        void this.#serve(peer, peerId, message);
        return;
      default:
        this.#out.error(peer, peerId, message.id, new DaemonError(`a daemon does not accept ${message.kind} messages`));
    }
  }

  /** Runs a request; a method that returns synchronously is answered without a trip through the microtask queue. */
  #serve(peer: Buffer, peerId: string, message: ObjectRequest): void {
    const oneway = message.kind === "call" && message.oneway;
    if (this.#state !== "running") {
      if (!oneway) this.#out.error(peer, peerId, message.id, new DaemonError("daemon is shutting down"));
      return;
    }
    if (this.#calls.of(peerId) >= this.#maxCallsPerConnection) {
      this.#failed(peer, peerId, message, new LimitExceededError(`this connection already has ${this.#maxCallsPerConnection} calls in progress, the most a connection may`));
      return;
    }
    const served = new ServedCall(peerId, message.object);
    let result: unknown;
    try {
      result = runInCallContext(served, () => this.#run(peer, peerId, message, served));
    } catch (error) {
      this.#failed(peer, peerId, message, error);
      return;
    }
    if (!isThenable(result)) {
      this.#answer(peer, peerId, message, result);
      return;
    }
    const call = oneway ? undefined : new Unanswered(peer, peerId, message.id);
    this.#calls.begin(peerId, call);
    if (call) this.#answersLater = true;
    Promise.resolve(result).then(
      (value: unknown) => this.#settled(peer, peerId, message, call, false, value),
      (error: unknown) => this.#settled(peer, peerId, message, call, true, error),
    );
  }

  /** Answers a call whose method's promise settled, unless close() has answered it already. */
  #settled(peer: Buffer, peerId: string, message: ObjectRequest, call: Unanswered | undefined, failed: boolean, outcome: unknown): void {
    try {
      if (!this.#calls.settle(call)) {
        if (!failed && outcome instanceof StreamResult) outcome.discard(new DaemonError("the daemon was closed"));
      } else if (failed) this.#failed(peer, peerId, message, outcome);
      else this.#answer(peer, peerId, message, outcome);
    } catch (error) {
      this.#onError(error, `answering ${message.kind} ${message.object} failed`);
    } finally {
      this.#calls.end(peerId);
    }
  }

  #failed(peer: Buffer, peerId: string, message: ObjectRequest, error: unknown): void {
    if (message.kind === "call" && message.oneway) this.#onError(error, `oneway call ${message.object}.${message.member} failed`);
    else this.#out.error(peer, peerId, message.id, error);
  }

  /** Runs a request; a result to be streamed comes back as a StreamResult, its instance kept until the stream is over. */
  #run(peer: Buffer, peerId: string, message: ObjectRequest, served: ServedCall): unknown {
    if (message.kind === "subscribe" || message.kind === "unsubscribe") this.#locks.checkConnection(message.object, peerId);
    else this.#locks.check(message.object, peerId, message.lock);
    const { instance, shape, done } = this.#registry.resolve(message.object, peerId);
    let result: unknown;
    try {
      result = this.#runOn(peer, peerId, message, instance, shape, served);
    } catch (error) {
      done();
      throw error;
    }
    if (!isThenable(result)) return finished(message, served, done, result);
    return Promise.resolve(result).then(
      (value: unknown) => finished(message, served, done, value),
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  #runOn(peer: Buffer, peerId: string, message: ObjectRequest, instance: object, shape: ExposedShape, served: ServedCall): unknown {
    let request: Request;
    switch (message.kind) {
      case "subscribe":
        this.#signals.subscribe(peer, peerId, message.object, message.signal, signalOf(message.object, instance, shape, message.signal));
        return null;
      case "unsubscribe":
        return this.#signals.unsubscribe(peerId, message.object, message.signal);
      case "call":
        request = { kind: "call", member: message.member, args: decodeValue(message.args), served };
        break;
      case "get":
        request = { kind: "get", member: message.member };
        break;
      case "set":
        request = { kind: "set", member: message.member, value: decodeValue(message.value) };
        break;
    }
    return dispatch(message.object, instance, shape, request);
  }

  /** Answers a request that ran: its result, or the start of its stream. A oneway call's stream is never started. */
  #answer(peer: Buffer, peerId: string, message: ObjectRequest, result: unknown): void {
    const oneway = message.kind === "call" && message.oneway;
    if (result instanceof StreamResult) {
      if (oneway) result.discard(new DaemonError("a oneway call's result is not streamed"));
      else this.#streams.open(peer, peerId, message.id, result, this.#state === "running");
    } else if (!oneway) {
      this.#out.reply(peer, peerId, resultFrames(message.id, result, this.#options.maxMessageSize));
    }
  }
}
