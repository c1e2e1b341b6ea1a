/**
 * serpent (id 1), Pyro5's default serializer: Python literal text that `ast.literal_eval` reads back,
 * after the header line `# serpent utf-8 python3.2`. Encoding follows serpent 1.41's own choices so a
 * Python peer sees what a Python sender would have sent: NaN as {'__class__':'float','value':'nan'}
 * (Pyro5 turns it back into a float), ±Infinity as ±1e30000, bytes as {'data': base64, 'encoding':
 * 'base64'}, an empty set as `()` (Python 3.8 has no literal for it). Arrays go as lists, which Pyro5
 * accepts everywhere, also for the (object, method, vargs, kwargs) call tuple. An Error goes as the
 * exception dict class-dicts.ts makes of it, as with the json serializer.
 */
import { isProxy } from "node:util/types";
import { SerializeError } from "../../errors.js";
import { errorToExceptionDict, PROXY_HINT } from "./class-dicts.js";
import { SerializerId } from "./constants.js";
import type { Pyro5Serializer } from "./pyro5-serializer.js";
import { decodeSerpent, pythonFloatRepr } from "./serpent-parser.js";

export const SERPENT_HEADER = "# serpent utf-8 python3.2\n";
/** Python's parser refuses more nested brackets than this ("too many nested parentheses"). */
const PYTHON_MAX_NESTING = 200;
const NAN_LITERAL = "{'__class__':'float','value':'nan'}";
// Escaped so that Python reads back the exact string: quote, backslash, C0/C1 controls, line separators,
// and lone surrogates (Python strings may hold them too; raw they would not survive UTF-8).
const NEEDS_ESCAPE = /[\\'\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]/;
const ESCAPE = /[\\'\x00-\x1f\x7f-\x9f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(ch: string): string {
  const short = SHORT_ESCAPES[ch];
  if (short !== undefined) return short;
  const code = ch.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** A Python str literal for `text`. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? `'${text.replace(ESCAPE, escapeChar)}'` : `'${text}'`;
}

function numberLiteral(value: number): string {
  if (Number.isNaN(value)) return NAN_LITERAL;
  if (!Number.isFinite(value)) return value > 0 ? "1e30000" : "-1e30000";
  // As the json serializer: integral numbers below 1e21 go as Python ints (JSON.stringify writes them
  // without an exponent), the rest (and -0) as floats, so a Python method sees the same types either way.
  if (Number.isInteger(value) && Math.abs(value) < 1e21 && !Object.is(value, -0)) return BigInt(value).toString();
  return pythonFloatRepr(value);
}

function typeName(value: unknown): string {
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value !== "object" || value === null) return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === "string" && name !== "" ? `class instance ${name}` : "object";
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

class SerpentEncoder {
  private readonly out: string[] = [SERPENT_HEADER];
  /** The containers being written (ancestors of the current value), to tell a cycle from a shared value. */
  private readonly path = new Set<object>();

  encode(value: unknown): Buffer {
    try {
      this.write(value, false);
    } catch (error) {
      if (error instanceof SerializeError) throw error;
      // A getter or iterator of the value itself threw.
      throw new SerializeError(`serpent cannot encode the value: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    return Buffer.from(this.out.join(""), "utf8");
  }

  /** `hashable`: inside a set, where Python needs hashable values (arrays then go as tuples). */
  private write(value: unknown, hashable: boolean): void {
    switch (typeof value) {
      case "string": this.out.push(quote(value)); return;
      case "number":
        if (Number.isNaN(value) && hashable) throw new SerializeError("NaN cannot be a Set element: serpent writes it as a dict, which Python cannot hash");
        if (Number.isNaN(value)) this.checkNesting(); // its dict is one more bracket
        this.out.push(numberLiteral(value));
        return;
      case "bigint": this.out.push(value.toString()); return;
      case "boolean": this.out.push(value ? "True" : "False"); return;
      case "undefined": this.out.push("None"); return;
      case "object":
        if (value === null) this.out.push("None");
        else this.writeObject(value, hashable);
        return;
      default:
        throw new SerializeError(`serpent cannot encode a ${typeName(value)}`);
    }
  }

  private writeObject(value: object, hashable: boolean): void {
    if (isProxy(value)) throw new SerializeError(PROXY_HINT);
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new SerializeError("serpent cannot encode an invalid Date");
      this.out.push(quote(value.toISOString()));
      return;
    }
    if (hashable && !Array.isArray(value)) {
      throw new SerializeError(`a Set element must be hashable in Python; a ${typeName(value)} is not`);
    }
    if (this.path.has(value)) throw new SerializeError("serpent cannot encode a cyclic structure");
    this.checkNesting();
    this.path.add(value);
    if (Array.isArray(value)) this.writeSequence(value, hashable ? "(" : "[", hashable);
    else if (value instanceof Set) this.writeSet(value);
    else if (value instanceof Map) this.writeDict(this.mapEntries(value));
    else if (value instanceof Uint8Array) {
      const data = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
      this.out.push(`{'data':'${data}','encoding':'base64'}`);
    } else if (value instanceof Error) this.writeDict(Object.entries(errorToExceptionDict(value)));
    else if (isPlainObject(value)) this.writeDict(Object.entries(value));
    else throw new SerializeError(`serpent cannot encode a ${typeName(value)}`);
    this.path.delete(value);
  }

  private checkNesting(): void {
    if (this.path.size >= PYTHON_MAX_NESTING) {
      throw new SerializeError(`value nested deeper than ${PYTHON_MAX_NESTING} levels: Python's parser cannot read it`);
    }
  }

  private writeSequence(items: readonly unknown[], open: "(" | "[", hashable: boolean): void {
    this.out.push(open);
    // An index loop, not forEach: a hole in a sparse array is undefined, so None (as JSON writes null).
    for (let index = 0; index < items.length; index++) {
      if (index > 0) this.out.push(",");
      this.write(items[index], hashable);
    }
    this.out.push(open === "[" ? "]" : items.length === 1 ? ",)" : ")");
  }

  private writeSet(set: ReadonlySet<unknown>): void {
    if (set.size === 0) {
      this.out.push("()"); // serpent's own choice: literal_eval before Python 3.9 has no empty-set literal
      return;
    }
    this.out.push("{");
    let first = true;
    for (const item of set) {
      if (!first) this.out.push(",");
      first = false;
      this.write(item, true);
    }
    this.out.push("}");
  }

  private mapEntries(map: ReadonlyMap<unknown, unknown>): [string, unknown][] {
    const entries: [string, unknown][] = [];
    for (const [key, item] of map) {
      if (typeof key !== "string") throw new SerializeError(`a Map key must be a string to become a Python dict key, not a ${typeName(key)}`);
      entries.push([key, item]);
    }
    return entries;
  }

  private writeDict(entries: readonly (readonly [string, unknown])[]): void {
    this.out.push("{");
    entries.forEach(([key, item], index) => {
      this.out.push(index > 0 ? `,${quote(key)}:` : `${quote(key)}:`);
      this.write(item, false);
    });
    this.out.push("}");
  }
}

/** Encodes a value of the pyro5 value model as a serpent payload (header included). */
export function encodeSerpent(value: unknown): Buffer {
  return new SerpentEncoder().encode(value);
}

/** The serpent serializer (id 1): what Python Pyro5 clients send unless told otherwise. */
export const serpentSerializer: Pyro5Serializer = Object.freeze({
  id: SerializerId.serpent,
  name: "serpent",
  encode: encodeSerpent,
  decode: decodeSerpent,
});
