/**
 * One INVOKE from a Pyro5 client, answered: a call, an attribute read or write
 * (`__getattr__`/`__setattr__`), a batch, the Pyro.Daemon object, a oneway call (no answer),
 * or the start of an item stream. Failures become exception replies Python raises as its own
 * exceptions; a request or result that cannot be (de)serialized also ends the connection, as
 * Pyro5's daemon does after any SerializeError.
 */
import type { HostedResult, ObjectHost } from "../../daemon/object-host.js";
import type { Request } from "../../daemon/dispatch.js";
import { DaemonError, MessageTooLargeError, ProtocolError, SerializeError } from "../../errors.js";
import { reviver } from "../client/connect.js";
import { mayHoldClassDicts } from "../client/revive.js";
import { decodeCall, type Pyro5Call } from "../wire/call-payload.js";
import { errorToExceptionWrapperDict } from "../wire/class-dicts.js";
import { Flag, SerializerId } from "../wire/constants.js";
import type { Pyro5Message } from "../wire/message.js";
import { jsonSerializer, serializerById, type Pyro5Serializer } from "../wire/serializer.js";
import type { ItemStreams } from "./item-streams.js";
import { PYRO5_DAEMON_ID, type Pyro5DaemonObject } from "./pyro5-daemon-object.js";
import { exceptionMessage, resultMessage } from "./replies.js";

/** What a request gets: a reply to send (none for oneway), and whether the connection ends after it. */
export interface Answer {
  readonly reply?: Buffer;
  readonly close?: boolean;
}

/** What answering needs of its connection. */
export interface InvocationScope {
  readonly host: ObjectHost;
  readonly peerId: string;
  readonly daemonObject: Pyro5DaemonObject;
  readonly streams: ItemStreams;
}

/** The serializers answered, for the errors that name them. */
export const ACCEPTED_SERIALIZERS = "serpent (1, Pyro5's default) and json (3)";

export function notAccepted(serializerId: number): SerializeError {
  return new SerializeError(`message used serializer ${serializerId}, which this pyro-ts daemon does not accept: it answers ${ACCEPTED_SERIALIZERS}`);
}

/**
 * URIs and proxies a Python client passes (Pyro's callback pattern: a proxy of an object of its
 * own daemon) arrive as URI strings and Pyro5Remote proxies, speaking the serializer the client
 * used; a proxy connects on its first call, and the method `$close()`s it when done.
 */
const REVIVE = { json: reviver({ serializer: "json" }), serpent: reviver({ serializer: "serpent" }) };

/** A Pyro5 "result of call is an iterator" reply carries this annotation with the stream id. */
const STREAM_ANNOTATION = "STRM";

export async function answerInvoke(scope: InvocationScope, message: Pyro5Message): Promise<Answer> {
  const serializer = serializerById(message.serializerId);
  if (!serializer) return { reply: exceptionMessage({ ...message, serializerId: jsonSerializer.id }, jsonSerializer, notAccepted(message.serializerId)), close: true };
  const fail = (error: unknown, close = false): Answer => ({ reply: exceptionMessage(message, serializer, error), close });
  if (message.flags & Flag.keepSerialized) return fail(new SerializeError("SerializedBlob arguments (keepSerialized, a marshal blob) are not supported by pyro-ts: pass plain values"), true);
  let call: Pyro5Call;
  try {
    call = decodeCall(serializer, message.payload);
  } catch (error) {
    return fail(error, true);
  }
  try {
    if (mayHoldClassDicts(message.payload)) call = { ...call, params: REVIVE[serializer.id === SerializerId.json ? "json" : "serpent"](call.params) as unknown[] };
  } catch (error) {
    // A proxy of a URI that is no PYRO: URI: this call fails, the connection is sound.
    return fail(error);
  }
  const oneway = (message.flags & Flag.oneway) !== 0;
  if (message.flags & Flag.batch) {
    const batch = runBatch(scope, call, oneway);
    if (oneway) return {};
    return reply(message, serializer, scope.host, await batch, Flag.batch);
  }
  const running = runOne(scope, call, oneway);
  if (oneway) {
    // Nobody waits: the next request is served meanwhile, as Pyro5 runs a oneway call in a thread of its own.
    running.catch((error: unknown) => scope.host.report(error, `oneway call ${call.object}.${call.method} from a Pyro5 client failed`));
    return {};
  }
  let result: HostedResult;
  try {
    result = await running;
  } catch (error) {
    return fail(error);
  }
  if (result.kind === "value") return reply(message, serializer, scope.host, result.value, 0);
  // Pyro5's answer to a generator: flags exception|itemStream, the id in STRM, and for old clients a ProtocolError.
  const id = scope.streams.add(result);
  const annotations = new Map([[STREAM_ANNOTATION, Buffer.from(id, "utf8")]]);
  return { reply: exceptionMessage(message, serializer, new ProtocolError("result of call is an iterator"), Flag.itemStream, annotations) };
}

/** A result reply; one that cannot be encoded is a SerializeError reply and ends the connection (as in Pyro5). */
function reply(message: Pyro5Message, serializer: Pyro5Serializer, host: ObjectHost, value: unknown, flags: number): Answer {
  let encoded: Buffer;
  try {
    encoded = resultMessage(message, serializer, value, flags);
  } catch (error) {
    return { reply: exceptionMessage(message, serializer, error), close: error instanceof SerializeError };
  }
  if (encoded.length > host.maxMessageSize) {
    return { reply: exceptionMessage(message, serializer, new MessageTooLargeError(`a reply of ${encoded.length} bytes exceeds the maximum message size of ${host.maxMessageSize}`)) };
  }
  return { reply: encoded };
}

/** Runs one call of a request (or of a batch) on the daemon object or through the host. */
function runOne(scope: InvocationScope, call: Pyro5Call, oneway: boolean): Promise<HostedResult> {
  if (call.object === PYRO5_DAEMON_ID) {
    return scope.daemonObject.call(call.method, call.params, call.kwargs).then((value) => ({ kind: "value", value }));
  }
  let request: Request;
  try {
    request = requestOf(call);
  } catch (error) {
    return Promise.reject(error);
  }
  return scope.host.invoke(scope.peerId, call.object, request, oneway);
}

/**
 * A batch: `params` is a list of [method, args, kwargs]; results in order, the first failure
 * in their place as Pyro5's _ExceptionWrapper, and the rest not run. Oneway: nothing returned,
 * the first failure reported.
 */
async function runBatch(scope: InvocationScope, call: Pyro5Call, oneway: boolean): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const entry of call.params) {
    try {
      if (!Array.isArray(entry) || entry.length !== 3 || typeof entry[0] !== "string" || !Array.isArray(entry[1])) {
        throw new ProtocolError("each call of a batch must be [method, args, kwargs]");
      }
      const [method, params, kwargs] = entry as [string, unknown[], unknown];
      if (kwargs !== null && kwargs !== undefined && (typeof kwargs !== "object" || Array.isArray(kwargs))) throw new ProtocolError("the kwargs of a batched call must be a dict");
      const result = await runOne(scope, { object: call.object, method, params, kwargs: (kwargs ?? {}) as Record<string, unknown> }, oneway);
      if (result.kind === "stream") {
        await result.close(new DaemonError("a batch does not stream"));
        throw new ProtocolError(`${method} returned a stream, which a batch cannot carry (Pyro5 does not stream in batches): call it on its own`);
      }
      results.push(result.value);
    } catch (error) {
      if (oneway) scope.host.report(error, `a oneway batch call to ${call.object} from a Pyro5 client failed`);
      results.push(errorToExceptionWrapperDict(error));
      break;
    }
  }
  return results;
}

/** The daemon request a Pyro5 call stands for. */
function requestOf(call: Pyro5Call): Request {
  const { method, params } = call;
  if (method === "__getattr__" || method === "__setattr__") {
    const arity = method === "__getattr__" ? 1 : 2;
    if (params.length !== arity || typeof params[0] !== "string") throw new TypeError(`${method} takes ${arity === 1 ? "(name)" : "(name, value)"}, the name a string`);
    return arity === 1 ? { kind: "get", member: params[0] } : { kind: "set", member: params[0], value: params[1] };
  }
  const keywords = Object.keys(call.kwargs);
  if (keywords.length > 0) {
    throw new TypeError(
      `${method}() got keyword argument(s) ${keywords.map((k) => `'${k}'`).join(", ")}: pyro-ts methods take positional arguments only ` +
        `(TypeScript has no keyword arguments); pass them in order`,
    );
  }
  return { kind: "call", member: method, args: [...params] };
}
