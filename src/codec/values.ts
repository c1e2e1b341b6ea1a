/**
 * Values of arguments, results and attributes. superjson keeps Date, Map, Set, BigInt,
 * undefined, RegExp, URL and registered classes; binary values become attachment frames
 * (binary.ts). Plain JSON values skip superjson: it is several times slower than JSON.
 */
import { SuperJSON } from "superjson";
import { SerializeError } from "../errors.js";
import type { Payload, SerializedValue } from "../protocol/message.js";
import { collectingAttachments, registerBinaryTypes, withAttachments } from "./binary.js";

// Our own instance, so registrations never leak into (or from) the user's superjson.
const superjson = new SuperJSON();
registerBinaryTypes(superjson);

const MAX_PLAIN_CHECK_DEPTH = 32;

/** True when JSON.stringify/parse gives back an equal value, checked cheaply. */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > MAX_PLAIN_CHECK_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          // Holes would come back as null.
          if (!(i in value) || !isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (key === "__proto__" || !isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** Serializes a value; binary parts become attachments. Throws SerializeError. */
export function encodeValue(value: unknown): Payload {
  if (isPlainJson(value, 0)) return { value: { json: value }, attachments: [] };
  try {
    const { result, attachments } = collectingAttachments(() => superjson.serialize(value));
    const serialized: SerializedValue = result.meta === undefined ? { json: result.json } : { json: result.json, meta: result.meta };
    return { value: serialized, attachments };
  } catch (error) {
    throw new SerializeError(`cannot serialize value: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Rebuilds a value from its serialized form and attachment frames. Throws SerializeError. */
export function decodeValue(payload: Payload): unknown {
  const { value, attachments } = payload;
  if (value.meta === undefined) return value.json;
  try {
    return withAttachments(attachments, () =>
      superjson.deserialize({ json: value.json as never, meta: value.meta as never }),
    );
  } catch (error) {
    throw new SerializeError(`cannot decode value: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Registers a class so its instances keep their prototype across the wire.
 * Register it under the same name on both sides (the class name by default).
 */
export function registerClass(ctor: new (...args: never[]) => unknown, name: string = ctor.name): void {
  if (!name) throw new TypeError("registerClass needs a name for an anonymous class");
  superjson.registerClass(ctor as never, { identifier: name, allowProps: undefined });
}
