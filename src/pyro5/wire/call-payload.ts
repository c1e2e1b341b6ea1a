/**
 * The payload of an INVOKE: which object, which method, positional and keyword arguments.
 * Pyro5's json serializer sends it as a dict, the others (serpent) as a 4-tuple
 * `(object, method, vargs, kwargs)`; both are read and written here, checked on the way in.
 */
import { ProtocolError } from "../../errors.js";
import { SerializerId } from "./constants.js";
import type { Pyro5Serializer } from "./serializer.js";

export interface Pyro5Call {
  readonly object: string;
  readonly method: string;
  readonly params: readonly unknown[];
  /** Keyword arguments; Python's batch call sends none (null). */
  readonly kwargs: Readonly<Record<string, unknown>>;
}

export function encodeCall(serializer: Pyro5Serializer, call: Pyro5Call): Buffer {
  if (serializer.id === SerializerId.json) {
    return serializer.encode({ object: call.object, method: call.method, params: call.params, kwargs: call.kwargs });
  }
  return serializer.encode([call.object, call.method, call.params, call.kwargs]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Set) && !Buffer.isBuffer(value);
}

/** Throws ProtocolError when the payload is not a call (SerializeError when it does not decode). */
export function decodeCall(serializer: Pyro5Serializer, payload: Buffer): Pyro5Call {
  const decoded = serializer.decode(payload);
  let object: unknown, method: unknown, params: unknown, kwargs: unknown;
  if (Array.isArray(decoded) && decoded.length === 4) [object, method, params, kwargs] = decoded as unknown[];
  else if (isRecord(decoded)) ({ object, method, params, kwargs } = decoded);
  else throw new ProtocolError(`an INVOKE must carry (object, method, params, kwargs), got ${describe(decoded)}`);
  if (typeof object !== "string") throw new ProtocolError(`the object id of a call must be a string, got ${describe(object)}`);
  if (typeof method !== "string") throw new ProtocolError(`the method name of a call must be a string, got ${describe(method)}`);
  if (!Array.isArray(params)) throw new ProtocolError(`the params of a call must be a list, got ${describe(params)}`);
  if (kwargs !== null && kwargs !== undefined && !isRecord(kwargs)) throw new ProtocolError(`the kwargs of a call must be a dict, got ${describe(kwargs)}`);
  return { object, method, params, kwargs: kwargs ?? {} };
}

function describe(value: unknown): string {
  if (value === null) return "None";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return typeof value;
}
