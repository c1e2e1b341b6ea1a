/**
 * The ES Proxy behind `Pyro5Remote<T>`. Members are checked against the metadata the daemon
 * sent in its handshake, so a typo fails here with UnknownMemberError, as in pyro-ts's own
 * proxies. Attributes go through Pyro5's `__getattr__`/`__setattr__`; methods in the
 * metadata's `oneway` list are sent with the oneway flag and resolve once sent.
 */
import { inspect } from "node:util";
import { CommunicationError, ConnectionClosedError, UnknownMemberError } from "../../errors.js";
import { PythonError } from "../wire/python-error.js";
import { validCallTimeout } from "../../proxy/proxy.js";
import { encodeCall } from "../wire/call-payload.js";
import { exceptionFromWrapperDict } from "../wire/class-dicts.js";
import { Flag, MessageType } from "../wire/constants.js";
import type { Pyro5Serializer } from "../wire/serializer.js";
import { decodeResult, streamOpened } from "./call-reply.js";
import type { Pyro5Pool } from "./connection-pool.js";
import type { Pyro5Connection } from "./pyro5-connection.js";
import { checkMetadata, type Pyro5Metadata } from "./pyro5-metadata.js";
import { Pyro5ItemStream } from "./item-stream.js";
import type { Pyro5BatchCall, Pyro5Remote } from "./pyro5-remote.js";

/** Object id of the object every Pyro5 daemon serves about itself. */
export const PYRO5_DAEMON_ID = "Pyro.Daemon";

export interface Pyro5ProxyState {
  readonly pool: Pyro5Pool;
  readonly uri: string;
  readonly objectId: string;
  readonly serializer: Pyro5Serializer;
  metadata: Pyro5Metadata;
  timeout: number;
  /** Turns URI and proxy dicts in results into URIs and proxies. */
  readonly revive: (value: unknown) => unknown;
}

interface InvokeOptions {
  readonly object?: string;
  readonly flags?: number;
  readonly oneway?: boolean;
  readonly pinned?: Pyro5Connection;
}

const BATCH_METHOD = "<batch>";
/** Pyro5's CommunicationError and its subclasses, as a Python daemon names them. */
const COMMUNICATION_ERRORS = new Set(["CommunicationError", "ConnectionClosedError", "TimeoutError", "ProtocolError", "MessageTooLargeError", "SerializeError"].map((name) => `Pyro5.errors.${name}`));

function isCommunicationError(error: unknown): boolean {
  return error instanceof CommunicationError || (error instanceof PythonError && COMMUNICATION_ERRORS.has(error.pythonType));
}

/** A call's promise, iterable too when the method streams: `for await (const x of proxy.scan(10))`. */
function iterable(reply: Promise<unknown>, what: string): Promise<unknown> & AsyncIterable<unknown> {
  const stream = (): Promise<Pyro5ItemStream> =>
    reply.then((value) => {
      if (value instanceof Pyro5ItemStream) return value;
      throw new TypeError(`${what} returned a value, not a stream: await it instead of iterating it`);
    });
  return Object.assign(reply, {
    [Symbol.asyncIterator]: (): AsyncIterator<unknown> => {
      const started = stream();
      return {
        next: () => started.then((s) => s.next()),
        return: () => started.then((s) => s.return(), () => ({ done: true as const, value: undefined })),
      };
    },
  });
}

export function createPyro5Proxy<T>(state: Pyro5ProxyState): Pyro5Remote<T> {
  let closed = false;
  const streams = new Set<Pyro5ItemStream>();
  const methods = new Map<string, (...args: unknown[]) => unknown>();
  const closedError = (): ConnectionClosedError => new ConnectionClosedError(`proxy for ${state.uri} is closed`);

  const invoke = async (method: string, params: readonly unknown[], options: InvokeOptions = {}): Promise<unknown> => {
    if (closed) throw closedError();
    const payload = encodeCall(state.serializer, { object: options.object ?? state.objectId, method, params, kwargs: {} });
    const request = { type: MessageType.invoke, flags: options.flags ?? 0, payload };
    if (options.oneway) return state.pool.oneway(request, state.timeout, options.pinned);
    const reply = await state.pool.request(request, state.timeout, options.pinned);
    const opened = streamOpened(reply);
    if (!opened) {
      try {
        return decodeResult(state.serializer, reply, state.revive);
      } catch (error) {
        // As Pyro5's proxy: after a communication error the connection is not trusted (a Python
        // daemon closes it after a SerializeError reply); the next call opens another.
        if (isCommunicationError(error)) reply.connection.close();
        throw error;
      }
    }
    const stream: Pyro5ItemStream = new Pyro5ItemStream(streamSource(opened.reply.connection, `${state.uri} ${method}()`), opened.streamId, () => streams.delete(stream));
    streams.add(stream);
    return stream;
  };

  const streamSource = (connection: Pyro5Connection, what: string) => ({
    what,
    next: (streamId: string) => invoke("get_next_stream_item", [streamId], { object: PYRO5_DAEMON_ID, pinned: connection }),
    close: async (streamId: string) => {
      if (!connection.closed) await invoke("close_stream", [streamId], { object: PYRO5_DAEMON_ID, pinned: connection, oneway: true });
    },
  });

  // A proxy a Python peer made and never bound arrives with no metadata (as Python's own
  // proxy, it fetches it before its first call): until then every name is taken for a method.
  let metadataKnown = state.metadata.methods.length + state.metadata.attrs.length + state.metadata.oneway.length > 0;
  let fetchingMetadata: Promise<unknown> | undefined;
  const afterMetadata = async (name: string): Promise<void> => {
    // A failed fetch (the daemon unreachable) is tried again by the next call.
    await (fetchingMetadata ??= meta().then(
      () => (metadataKnown = true),
      (error: unknown) => {
        fetchingMetadata = undefined;
        throw error;
      },
    ));
    if (!state.metadata.methods.includes(name)) throw unknownMember(name);
  };

  const method = (name: string): ((...args: unknown[]) => unknown) => {
    let fn = methods.get(name);
    if (!fn) {
      fn = (...args: unknown[]) => {
        const send = (): Promise<unknown> => {
          const oneway = state.metadata.oneway.includes(name);
          return invoke(name, args, { oneway }).then((value) => (oneway ? undefined : value));
        };
        return iterable(metadataKnown ? send() : afterMetadata(name).then(send), `${state.uri} ${name}()`);
      };
      methods.set(name, fn);
    }
    return fn;
  };

  // Lazy: the attribute is read only when awaited.
  const attribute = (name: string): PromiseLike<unknown> => ({
    then: (onFulfilled, onRejected) => invoke("__getattr__", [name]).then(onFulfilled, onRejected),
  });

  const batch = async (calls: readonly Pyro5BatchCall[], options: { readonly oneway?: boolean } = {}): Promise<unknown[]> => {
    for (const [name] of calls) if (!state.metadata.methods.includes(name)) throw unknownMember(name);
    const params = calls.map(([name, ...args]) => [name, args, {}]);
    const flags = Flag.batch;
    if (options.oneway) {
      await invoke(BATCH_METHOD, params, { flags, oneway: true });
      return [];
    }
    const results = await invoke(BATCH_METHOD, params, { flags });
    if (!Array.isArray(results)) throw new TypeError(`a batch call to ${state.uri} answered ${typeof results}, not a list`);
    // The first failing call's exception stands in its place; the calls after it did not run.
    for (const result of results) {
      const failed = exceptionFromWrapperDict(result);
      if (failed) throw PythonError.fromInfo(failed);
    }
    return results;
  };

  const unknownMember = (name: string): UnknownMemberError =>
    new UnknownMemberError(`${state.uri} has no exposed member ${JSON.stringify(name)} (methods: ${state.metadata.methods.join(", ") || "none"}; attributes: ${state.metadata.attrs.join(", ") || "none"})`);

  const meta = async (): Promise<Pyro5Metadata> => {
    state.metadata = checkMetadata(await invoke("get_metadata", [state.objectId], { object: PYRO5_DAEMON_ID }), state.uri);
    return state.metadata;
  };

  const controls: Record<string, unknown> = {
    $set: async (name: string, value: unknown): Promise<void> => {
      if (!state.metadata.attrs.includes(name)) throw unknownMember(name);
      await invoke("__setattr__", [name, value]);
    },
    $meta: meta,
    $batch: batch,
    $close: async (): Promise<void> => {
      if (closed) return;
      await Promise.all([...streams].map((s) => s.close()));
      closed = true;
      state.pool.close();
    },
  };

  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === "symbol") return prop === inspect.custom ? () => `Pyro5Remote<${state.uri}>` : undefined;
      switch (prop) {
        case "then":
        case "toJSON":
          return undefined;
        case "$uri":
          return state.uri;
        case "$timeout":
          return state.timeout;
      }
      if (Object.hasOwn(controls, prop)) return controls[prop];
      if (state.metadata.methods.includes(prop) || !metadataKnown) return method(prop);
      if (state.metadata.attrs.includes(prop)) return attribute(prop);
      throw unknownMember(prop);
    },
    set(_target, prop, value) {
      if (prop === "$timeout") {
        state.timeout = validCallTimeout(value);
        return true;
      }
      throw new TypeError(`cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`);
    },
    has(_target, prop) {
      return typeof prop === "string" && (Object.hasOwn(controls, prop) || prop === "$uri" || prop === "$timeout" || state.metadata.methods.includes(prop) || state.metadata.attrs.includes(prop));
    },
  };
  return new Proxy({}, handler) as Pyro5Remote<T>;
}
