/**
 * The messages a pyro-ts daemon sends Pyro5 clients: results, exceptions, pongs, handshake
 * answers. Each echoes the request's sequence number and correlation id (or a new one, as
 * Pyro5's daemon makes one per request) and uses the request's serializer: a Python proxy
 * refuses a reply in any other.
 */
import { randomUUID } from "node:crypto";
import { errorToExceptionDict } from "../wire/class-dicts.js";
import { Flag, MessageType } from "../wire/constants.js";
import { encodePyro5Message, type Pyro5Message } from "../wire/message.js";
import { PythonError } from "../wire/python-error.js";
import { jsonSerializer, type Pyro5Serializer } from "../wire/serializer.js";

/** The parts of a request a reply answers to. */
export type RequestHeader = Pick<Pyro5Message, "seq" | "serializerId" | "correlationId">;

/** Pyro5 sets a correlation id on every reply: the request's, or a fresh UUID. */
function correlationOf(request: RequestHeader): Buffer {
  return request.correlationId ?? Buffer.from(randomUUID().replaceAll("-", ""), "hex");
}

/** A Python exception of a given type, for what Pyro5 itself raises (StopIteration, PyroError…). */
export function pythonException(pythonType: string, ...args: unknown[]): PythonError {
  return PythonError.fromInfo({ pythonType, args, attributes: {} });
}

/** A result; throws SerializeError when the value cannot go in this serializer. */
export function resultMessage(request: RequestHeader, serializer: Pyro5Serializer, value: unknown, flags = 0): Buffer {
  const payload = serializer.encode(value);
  return encodePyro5Message({ type: MessageType.result, serializerId: serializer.id, flags, seq: request.seq, correlationId: correlationOf(request), payload });
}

/**
 * An exception reply (flag exception), as a class-dict Python turns back into its exception.
 * Never throws: an exception whose attributes cannot be encoded goes as a PyroError saying so.
 */
export function exceptionMessage(request: RequestHeader, serializer: Pyro5Serializer, error: unknown, flags = 0, annotations?: ReadonlyMap<string, Buffer>): Buffer {
  let payload: Buffer;
  try {
    payload = serializer.encode(errorToExceptionDict(error));
  } catch (encodeError) {
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    payload = serializer.encode(errorToExceptionDict(pythonException("Pyro5.errors.PyroError", `Error serializing exception: ${String(encodeError)}. Original exception: ${what}`)));
  }
  return encodePyro5Message({
    type: MessageType.result,
    serializerId: serializer.id,
    flags: flags | Flag.exception,
    seq: request.seq,
    correlationId: correlationOf(request),
    ...(annotations && { annotations }),
    payload,
  });
}

/** MSG_PING answered: same sequence number and serializer id (whatever it is: Python sends 42), payload "pong". */
export function pongMessage(request: RequestHeader): Buffer {
  return encodePyro5Message({ type: MessageType.ping, serializerId: request.serializerId, seq: request.seq, correlationId: correlationOf(request), payload: "pong" });
}

/** A handshake answer: CONNECTOK with `{handshake, meta}`, or CONNECTFAIL with the reason as a string. */
export function connectMessage(request: RequestHeader, serializer: Pyro5Serializer, accepted: boolean, payload: unknown): Buffer {
  return encodePyro5Message({
    type: accepted ? MessageType.connectOk : MessageType.connectFail,
    serializerId: serializer.id,
    seq: request.seq,
    correlationId: correlationOf(request),
    payload: serializer.encode(payload),
  });
}

/** CONNECTFAIL for a peer whose request could not even be read: seq 0, json (Pyro5 uses marshal, which pyro-ts does not speak). */
export function connectFailure(reason: string): Buffer {
  return connectMessage({ seq: 0, serializerId: jsonSerializer.id }, jsonSerializer, false, reason);
}
