/**
 * What a second protocol front (the Pyro5 server) needs from a daemon: its objects, with the
 * daemon's own rules and limits. The front owns its sockets and its wire format; everything
 * about objects (exposure, locks, instance modes, call context, limits, close()) stays here,
 * so a Python client is served by exactly the rules a pyro-ts client is.
 */
import { DaemonError, LimitExceededError } from "../errors.js";
import type { Signal } from "../signal.js";
import { runInCallContext, ServedCall } from "./call-context.js";
import { type CallsInProgress, Unanswered } from "./calls-in-progress.js";
import { dispatch, type Request } from "./dispatch.js";
import { type HostedStream, NO_PEER, StreamOfFront, stopUnstarted, type FrontConnections } from "./front-connections.js";
import type { ExposedShape } from "./introspect.js";
import type { LockTable } from "./locks.js";
import { isStreamable } from "./outgoing-stream.js";
import type { Registry } from "./registry.js";

export type { HostedStream };

export type HostedResult = { readonly kind: "value"; readonly value: unknown } | HostedStream;

/** A daemon's objects as a protocol front sees them. */
export interface ObjectHost {
  readonly maxMessageSize: number;
  readonly maxStreamsPerConnection: number;
  /** Whether the daemon serves requests (false once close() began). */
  readonly running: boolean;
  /** Ids of every registered object, the daemon's own included. */
  ids(): string[];
  /** The exposed shape of `objectId` (DaemonError "unknown object" if none). */
  shape(objectId: string, peerId: string): ExposedShape;
  /** One line about the daemon, for the front's daemon object. */
  describe(): string;
  /**
   * A new client connection of this front: returns its peer id (unique in the daemon; what
   * callContext().peerId tells its calls). LimitExceededError when the daemon already serves
   * maxConnections, its own connections and every front's counted together.
   */
  connectionOpened(): string;
  /**
   * The connection is gone: its streams are stopped, then its session instances disposed; its
   * locks are released and clientDisconnected is emitted. Calling it again does nothing.
   */
  connectionClosed(peerId: string): void;
  /**
   * Runs a call/get/set as the daemon runs its own: refused unless running, at most
   * maxCallsPerConnection at once, a locked object refuses (a front has no lock tokens),
   * call context, instance per mode, dispatch by the exposed shape only. A streamable result
   * of a call comes back as a HostedStream (a oneway call's is stopped at once). Counted in
   * the daemon's calls in progress: close() waits for it, and past closeTimeout rejects it
   * with DaemonError.
   */
  invoke(peerId: string, objectId: string, request: Request, oneway: boolean): Promise<HostedResult>;
  /** Reports what cannot be sent to anyone (a failed oneway call), through the daemon's onError. */
  report(error: unknown, context: string): void;
}

/** What a daemon lends its fronts' host; it keeps these private otherwise. */
export interface HostInternals {
  readonly maxMessageSize: number;
  readonly maxStreamsPerConnection: number;
  readonly maxCallsPerConnection: number;
  readonly maxConnections: number;
  readonly registry: Registry;
  readonly locks: LockTable;
  readonly calls: CallsInProgress;
  readonly fronts: FrontConnections;
  readonly clientDisconnected: Signal<[peerId: string]>;
  readonly running: () => boolean;
  /** Connections the daemon serves over its own transports. */
  readonly ownConnections: () => number;
  readonly describe: () => string;
  readonly report: (error: unknown, context: string) => void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

/** The ObjectHost a daemon gives a front; see Daemon.objectHost(). */
export class DaemonObjectHost implements ObjectHost {
  readonly #prefix: string;
  readonly #internals: HostInternals;

  constructor(prefix: string, internals: HostInternals) {
    this.#prefix = prefix;
    this.#internals = internals;
  }

  get maxMessageSize(): number {
    return this.#internals.maxMessageSize;
  }

  get maxStreamsPerConnection(): number {
    return this.#internals.maxStreamsPerConnection;
  }

  get running(): boolean {
    return this.#internals.running();
  }

  ids(): string[] {
    return this.#internals.registry.ids();
  }

  shape(objectId: string, peerId: string): ExposedShape {
    return this.#internals.registry.shape(objectId, peerId);
  }

  describe(): string {
    return this.#internals.describe();
  }

  report(error: unknown, context: string): void {
    this.#internals.report(error, context);
  }

  connectionOpened(): string {
    const { fronts, maxConnections, ownConnections } = this.#internals;
    if (!this.running) throw new DaemonError("daemon is shutting down");
    if (ownConnections() + fronts.size >= maxConnections) throw new LimitExceededError(`this daemon serves ${maxConnections} connections, the most it may`);
    return fronts.open(this.#prefix);
  }

  connectionClosed(peerId: string): void {
    const { fronts, registry, locks, clientDisconnected } = this.#internals;
    if (!fronts.close(peerId)) return;
    // A generator cleans up (its finally) before the session instance it uses is disposed.
    void fronts.stopStreams(peerId, new DaemonError("the client connection closed")).then(() => registry.endSession(peerId));
    locks.releasePeer(peerId);
    clientDisconnected.emit(peerId);
  }

  invoke(peerId: string, objectId: string, request: Request, oneway: boolean): Promise<HostedResult> {
    const { calls, maxCallsPerConnection } = this.#internals;
    if (!this.running) return Promise.reject(new DaemonError("daemon is shutting down"));
    // A batch or oneway call that outlived its connection must not make a session instance nobody disposes.
    if (!this.#internals.fronts.has(peerId)) return Promise.reject(new DaemonError("the client connection is closed"));
    if (calls.of(peerId) >= maxCallsPerConnection) {
      return Promise.reject(new LimitExceededError(`this connection already has ${maxCallsPerConnection} calls in progress, the most a connection may`));
    }
    const served = new ServedCall(peerId, objectId);
    return new Promise<HostedResult>((resolve, reject) => {
      // A oneway call is waited for by close() but answered to nobody.
      const call: Unanswered | undefined = oneway ? undefined : new Unanswered(NO_PEER, peerId, 0, reject);
      calls.begin(peerId, call);
      let result: unknown;
      try {
        result = runInCallContext(served, () => this.#run(peerId, objectId, request, served));
      } catch (error) {
        result = Promise.reject(error);
      }
      Promise.resolve(result)
        .then(
          (value) => {
            const hosted = value instanceof StreamOfFront ? value : { kind: "value" as const, value };
            // Not to be settled any more: close() has answered it already.
            if (!calls.settle(call)) void (hosted.kind === "stream" && hosted.close(new DaemonError("the daemon was closed")));
            else if (oneway && hosted.kind === "stream") void hosted.close(new DaemonError("a oneway call's result is not streamed")).then(() => resolve({ kind: "value", value: undefined }));
            else resolve(hosted);
          },
          (error: unknown) => {
            if (calls.settle(call)) reject(error);
          },
        )
        .finally(() => calls.end(peerId));
    });
  }

  /** Like the daemon's #run: lock check, instance, dispatch; a streamable result keeps its instance until the stream ends. */
  #run(peerId: string, objectId: string, request: Request, served: ServedCall): unknown {
    const { locks, registry, fronts, maxStreamsPerConnection } = this.#internals;
    locks.check(objectId, peerId, undefined);
    const { instance, shape, done } = registry.resolve(objectId, peerId);
    let result: unknown;
    try {
      const withSignal: Request = request.kind === "call" ? { ...request, served } : request;
      result = dispatch(objectId, instance, shape, withSignal);
    } catch (error) {
      done();
      throw error;
    }
    const settle = (value: unknown): unknown => {
      if (request.kind !== "call" || !isStreamable(value)) {
        done();
        return value;
      }
      const refusal = !fronts.has(peerId)
        ? new DaemonError("the client connection closed before its stream began")
        : fronts.streamsOf(peerId) >= maxStreamsPerConnection
          ? new LimitExceededError(`this connection already has ${maxStreamsPerConnection} streams open, the most a connection may`)
          : undefined;
      if (refusal) {
        served.abort(refusal);
        stopUnstarted(value);
        done();
        throw refusal;
      }
      return new StreamOfFront(value, served, done, this.#internals);
    };
    if (!isThenable(result)) return settle(result);
    return Promise.resolve(result).then(settle, (error: unknown) => {
      done();
      throw error;
    });
  }
}
