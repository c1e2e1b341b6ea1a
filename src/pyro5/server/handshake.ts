/**
 * A Pyro5 connection's first message must be CONNECT `{"handshake": …, "object": id}`; it is
 * answered CONNECTOK `{"handshake": "hello", "meta": {methods, oneway, attrs}}` (the metadata
 * spares the Python proxy a get_metadata call), or CONNECTFAIL with the reason as a string,
 * after which the connection ends — as Pyro5's daemon does.
 */
import type { ObjectHost } from "../../daemon/object-host.js";
import { MessageType } from "../wire/constants.js";
import type { Pyro5Message } from "../wire/message.js";
import { jsonSerializer, serializerById } from "../wire/serializer.js";
import type { Answer } from "./invocation.js";
import { notAccepted } from "./invocation.js";
import type { Pyro5DaemonObject } from "./pyro5-daemon-object.js";
import { connectMessage } from "./replies.js";

/** What Pyro5's validateHandshake answers by default; a Python proxy does not check it. */
const HANDSHAKE_RESPONSE = "hello";

export interface HandshakeOutcome {
  readonly answer: Answer;
  readonly accepted: boolean;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function answerConnect(message: Pyro5Message, host: ObjectHost, daemonObject: Pyro5DaemonObject): HandshakeOutcome {
  const serializer = serializerById(message.serializerId);
  const refuse = (reason: string): HandshakeOutcome => ({
    answer: { reply: connectMessage(message, serializer ?? jsonSerializer, false, reason), close: true },
    accepted: false,
  });
  if (message.type !== MessageType.connect) return refuse(`invalid msg type ${message.type} received (expected: ${MessageType.connect})`);
  if (!serializer) {
    return { answer: { reply: connectMessage({ ...message, serializerId: jsonSerializer.id }, jsonSerializer, false, `${notAccepted(message.serializerId).message} (a Python client: leave PYRO_SERIALIZER unset, or set it to json)`), close: true }, accepted: false };
  }
  if (!host.running) return refuse("daemon is shutting down");
  let objectId: unknown;
  try {
    const data = serializer.decode(message.payload);
    objectId = typeof data === "object" && data !== null ? (data as Record<string, unknown>)["object"] : undefined;
    if (typeof objectId !== "string") return refuse(`a CONNECT must carry {"handshake": …, "object": <object id>}`);
  } catch (error) {
    return refuse(reasonOf(error));
  }
  let meta;
  try {
    meta = daemonObject.metadata(objectId);
  } catch (error) {
    return refuse(reasonOf(error));
  }
  try {
    return { answer: { reply: connectMessage(message, serializer, true, { handshake: HANDSHAKE_RESPONSE, meta }) }, accepted: true };
  } catch (error) {
    return refuse(reasonOf(error));
  }
}
