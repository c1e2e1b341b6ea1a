/**
 * The serializers a Pyro5 peer may name in a message header that pyro-ts speaks:
 * serpent (id 1, Python's default) and json (id 3). Both decode to, and encode from, the same
 * value model (docs/pyro5.md); neither interprets "__class__" dicts (class-dicts.ts does).
 */
import { SerializeError } from "../../errors.js";
import { SerializerId } from "./constants.js";
import { jsonSerializer } from "./json-serializer.js";
import { serpentSerializer } from "./serpent.js";
import type { Pyro5Serializer } from "./pyro5-serializer.js";

export type { Pyro5Serializer };
export { jsonSerializer };

/** 1 serpent, 3 json; undefined for marshal, msgpack and anything else. */
export function serializerById(id: number): Pyro5Serializer | undefined {
  if (id === SerializerId.json) return jsonSerializer;
  if (id === SerializerId.serpent) return serpentSerializer;
  return undefined;
}

/** "json" or "serpent"; SerializeError for any other name. */
export function serializerByName(name: string): Pyro5Serializer {
  if (name === "json") return jsonSerializer;
  if (name === "serpent") return serpentSerializer;
  throw new SerializeError(`unknown Pyro5 serializer ${JSON.stringify(name)}: pyro-ts speaks "serpent" and "json" (not marshal or msgpack)`);
}
