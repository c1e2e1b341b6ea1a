/**
 * Values of arguments, results and attributes. superjson keeps Date, Map, Set, BigInt,
 * undefined, RegExp, URL and registered classes; binary values become attachment frames
 * (binary.ts). Plain JSON values skip superjson: it is several times slower than JSON.
 */
import { SuperJSON } from "superjson";
import { SerializeError } from "../errors.js";
import { NO_ATTACHMENTS, type Payload, type SerializedValue } from "../protocol/message.js";
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

const registeredClasses = new Set<Function>();

/** Types superjson (or binary.ts) handles itself. */
function isKnownType(value: object): boolean {
  return (
    value instanceof Date || value instanceof RegExp || value instanceof URL || value instanceof Error ||
    value instanceof Map || value instanceof Set || ArrayBuffer.isView(value) || value instanceof ArrayBuffer
  );
}

/**
 * superjson walks only plain objects, arrays, Maps and Sets: an instance of an unregistered
 * class would reach JSON.stringify as it is, its Dates as strings and its Buffers as
 * arrays of numbers. Such instances become plain objects of their own enumerable fields
 * (as Pyro sends unknown classes as dicts), so everything inside keeps its type.
 * Copies only what changes; shared and cyclic references stay shared.
 */
function plainify(value: unknown, seen: Map<object, unknown>): unknown {
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return seen.get(value);
  if (Array.isArray(value)) {
    seen.set(value, value);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = plainify(value[i], seen);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    if (copy) seen.set(value, copy);
    return copy ?? value;
  }
  if (value instanceof Map) {
    seen.set(value, value);
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      const entry: [unknown, unknown] = [plainify(k, seen), plainify(v, seen)];
      changed ||= entry[0] !== k || entry[1] !== v;
      entries.push(entry);
    }
    if (!changed) return value;
    const result = new Map(entries);
    seen.set(value, result);
    return result;
  }
  if (value instanceof Set) {
    seen.set(value, value);
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      const item = plainify(v, seen);
      changed ||= item !== v;
      items.push(item);
    }
    if (!changed) return value;
    const result = new Set(items);
    seen.set(value, result);
    return result;
  }
  if (isKnownType(value)) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  const isPlain = proto === Object.prototype || proto === null;
  if (!isPlain && registeredClasses.has((value as { constructor: Function }).constructor)) return value;
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined = isPlain ? undefined : {};
  seen.set(value, copy ?? value);
  for (const key of Object.keys(source)) {
    const field = plainify(source[key], seen);
    if (copy) copy[key] = field;
    else if (field !== source[key]) {
      copy = { ...source };
      copy[key] = field;
      seen.set(value, copy);
    }
  }
  return copy ?? value;
}

/** Serializes a value; binary parts become attachments. Throws SerializeError. */
export function encodeValue(value: unknown): Payload {
  if (isPlainJson(value, 0)) return { value: { json: value }, attachments: NO_ATTACHMENTS };
  if (typeof value === "function" || typeof value === "symbol") {
    throw new SerializeError(`cannot serialize a ${typeof value}`);
  }
  try {
    const prepared = plainify(value, new Map());
    const { result, attachments } = collectingAttachments(() => superjson.serialize(prepared));
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
  registeredClasses.add(ctor);
}
