/** What a Pyro5 RESULT means: a value, a Python exception, or the start of an item stream. */
import { ProtocolError, SerializeError } from "../../errors.js";
import { Flag, MessageType } from "../wire/constants.js";
import { exceptionFromDict } from "../wire/class-dicts.js";
import { PythonError } from "../wire/python-error.js";
import type { Pyro5Serializer } from "../wire/serializer.js";
import type { Pyro5Reply } from "./connection-pool.js";
import { mayHoldClassDicts } from "./revive.js";

/** An item stream the daemon opened for a call: its id, and the connection it lives on. */
export interface StreamOpened {
  readonly streamId: string;
  readonly reply: Pyro5Reply;
}

/** Decodes a RESULT's payload; `revive` turns URI and proxy dicts into pyro-ts values (only looked for when the payload names a class). */
export function decodeResult(serializer: Pyro5Serializer, reply: Pyro5Reply, revive: (value: unknown) => unknown): unknown {
  const { message } = reply;
  if (message.type !== MessageType.result) throw new ProtocolError(`expected a RESULT, got message type ${message.type}`);
  // A Python client refuses this too: the daemon must answer in the request's serializer.
  if (message.serializerId !== serializer.id) throw new SerializeError(`invalid serializer in response: ${message.serializerId}, expected ${serializer.id}`);
  const value = serializer.decode(message.payload);
  if (message.flags & Flag.exception) throw errorOf(value);
  return mayHoldClassDicts(message.payload) ? revive(value) : value;
}

/** The error an exception dict stands for (PythonError), or a ProtocolError if it is none. */
export function errorOf(value: unknown): Error {
  const info = exceptionFromDict(value);
  return info ? PythonError.fromInfo(info) : new ProtocolError(`the daemon flagged an exception but sent ${JSON.stringify(value)?.slice(0, 200)}`);
}

/** The stream a RESULT opened, if it flags one (its payload is then an error for old clients, ignored). */
export function streamOpened(reply: Pyro5Reply): StreamOpened | undefined {
  const { message } = reply;
  if (!(message.flags & Flag.itemStream)) return undefined;
  const id = message.annotations.get("STRM");
  if (!id || id.length === 0) throw new ProtocolError("an item stream result came without its STRM annotation");
  return { streamId: id.toString("utf8"), reply };
}
