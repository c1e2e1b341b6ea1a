/** Helpers of the pyro5-wire-messages, -json and -fuzz tests: a message reader, a Pyro5 message with defaults, the lossless json parser. */
import { MessageType, PYRO5_MAX_MESSAGE_SIZE, SerializerId } from "../src/pyro5/wire/constants.js";
import { parsePythonJsonLossless } from "../src/pyro5/wire/json-parse.js";
import { encodePyro5Message } from "../src/pyro5/wire/message.js";
import { Pyro5MessageReader } from "../src/pyro5/wire/message-reader.js";

export const reader = (maxMessageSize = PYRO5_MAX_MESSAGE_SIZE): Pyro5MessageReader => new Pyro5MessageReader({ maxMessageSize });
export const lossless = parsePythonJsonLossless;
export const message = (fields: Partial<Parameters<typeof encodePyro5Message>[0]> = {}): Buffer =>
  encodePyro5Message({ type: MessageType.result, serializerId: SerializerId.json, seq: 7, payload: "42", ...fields });
