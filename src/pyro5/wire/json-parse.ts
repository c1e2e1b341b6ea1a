/**
 * Reading Python's json (Pyro5's json serializer, id 3): the bare tokens NaN, Infinity and
 * -Infinity, and integers of any size (beyond 2^53 as BigInt), without losing anything.
 */
import { SerializeError } from "../../errors.js";

/**
 * The lossless parser and the encoder refuse deeper nesting: Python's json (recursion limit
 * 1000) could not read it anyway. (The JSON.parse fast path has no such limit.)
 */
export const MAX_JSON_DEPTH = 1000;

/** Parses Python json text: NaN/Infinity tokens kept, integers beyond 2^53 as BigInt. */
export function parsePythonJson(text: string): unknown {
  if (!mayLoseInJsonParse(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new SerializeError(`malformed json: ${(error as Error).message}`);
    }
  }
  return parsePythonJsonLossless(text);
}

/** The lossless parser alone (parsePythonJson uses it only when JSON.parse could lose something). */
export function parsePythonJsonLossless(text: string): unknown {
  return new LosslessParser(text).document();
}

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39;

/**
 * Whether JSON.parse could get `text` wrong: a NaN or Infinity token (it throws), or a run of
 * 16+ digits (an integer of at most 15 digits is always exact). Both may also be inside a
 * string: then the lossless parser runs for nothing, and gives the same value.
 * Micro-check (Node 20, 1 MB of mixed objects): 0.2 ms beside JSON.parse's 7 ms; 1 MB of
 * 7-digit integers 0.8 ms beside 1.8 ms (a /\d{16}/ regex took 2 ms and 9 ms).
 */
function mayLoseInJsonParse(text: string): boolean {
  if (text.includes("NaN") || text.includes("Infinity")) return true;
  // A run of 16 digits covers one of the positions 15, 31, 47, …: look only around those.
  for (let i = 15; i < text.length; i += 16) {
    if (!isDigit(text.charCodeAt(i))) continue;
    let start = i;
    while (start > i - 15 && isDigit(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end - start < 16 && isDigit(text.charCodeAt(end))) end++;
    if (end - start >= 16) return true;
  }
  return false;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** A recursive-descent parser of the json grammar Python's json.loads accepts (strict mode). */
class LosslessParser {
  #at = 0;
  #depth = 0;
  constructor(readonly text: string) {}

  document(): unknown {
    this.#space();
    const value = this.#value();
    this.#space();
    if (this.#at < this.text.length) this.#fail("unexpected data after the value");
    return value;
  }

  #fail(problem: string): never {
    throw new SerializeError(`malformed json at offset ${this.#at}: ${problem}`);
  }

  #space(): void {
    const { text } = this;
    for (let c = text.charCodeAt(this.#at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++this.#at));
  }

  #literal(word: string, value: unknown): unknown {
    if (!this.text.startsWith(word, this.#at)) this.#fail(`unexpected ${JSON.stringify(this.text.slice(this.#at, this.#at + 10))}`);
    this.#at += word.length;
    return value;
  }

  #value(): unknown {
    switch (this.text[this.#at]) {
      case "{": return this.#object();
      case "[": return this.#array();
      case '"': return this.#string();
      case "t": return this.#literal("true", true);
      case "f": return this.#literal("false", false);
      case "n": return this.#literal("null", null);
      case "N": return this.#literal("NaN", NaN);
      case "I": return this.#literal("Infinity", Infinity);
      case "-": return this.text.startsWith("-Infinity", this.#at) ? this.#literal("-Infinity", -Infinity) : this.#number();
      case undefined: return this.#fail("the text ends where a value should be");
      default: return this.#number();
    }
  }

  #number(): number | bigint {
    NUMBER.lastIndex = this.#at;
    const match = NUMBER.exec(this.text);
    if (!match) this.#fail(`unexpected ${JSON.stringify(this.text.slice(this.#at, this.#at + 10))}`);
    const token = match[0];
    this.#at += token.length;
    const value = Number(token);
    // An integer token stays a number only when that number is exact.
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(value)) return BigInt(token);
    return value;
  }

  #string(): string {
    const { text } = this;
    let start = ++this.#at;
    let result = "";
    for (;;) {
      const c = text.charCodeAt(this.#at);
      if (c === 0x22) {
        result += text.slice(start, this.#at++);
        return result;
      }
      if (c === 0x5c) {
        result += text.slice(start, this.#at);
        const escape = text[this.#at + 1];
        if (escape === "u") {
          const hex = text.slice(this.#at + 2, this.#at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#fail(`bad \\u escape ${JSON.stringify(hex)}`);
          result += String.fromCharCode(parseInt(hex, 16));
          this.#at += 6;
        } else {
          const replacement = escape === undefined ? undefined : ESCAPES[escape];
          if (replacement === undefined) this.#fail(`bad escape \\${escape ?? ""}`);
          result += replacement;
          this.#at += 2;
        }
        start = this.#at;
      } else if (c < 0x20 || Number.isNaN(c)) {
        this.#fail(Number.isNaN(c) ? "unterminated string" : `control character 0x${c.toString(16)} in a string`);
      } else {
        this.#at++;
      }
    }
  }

  #enter(): void {
    if (++this.#depth > MAX_JSON_DEPTH) this.#fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    this.#at++;
    this.#space();
  }

  /** After an item: true when another follows (a comma was read), false at `close`. */
  #next(close: string, what: string): boolean {
    this.#space();
    const c = this.text[this.#at];
    if (c !== "," && c !== close) this.#fail(`expected ',' or '${close}' in ${what}`);
    this.#at++;
    if (c === ",") {
      this.#space();
      return true;
    }
    this.#depth--;
    return false;
  }

  /** At the start of a container: true (and the container closed) when it is empty. */
  #empty(close: string): boolean {
    if (this.text[this.#at] !== close) return false;
    this.#at++;
    this.#depth--;
    return true;
  }

  #array(): unknown[] {
    this.#enter();
    const items: unknown[] = [];
    if (this.#empty("]")) return items;
    do items.push(this.#value());
    while (this.#next("]", "an array"));
    return items;
  }

  #object(): Record<string, unknown> {
    this.#enter();
    const object: Record<string, unknown> = {};
    if (this.#empty("}")) return object;
    do {
      if (this.text[this.#at] !== '"') this.#fail("expected a string key in an object");
      const key = this.#string();
      this.#space();
      if (this.text[this.#at] !== ":") this.#fail("expected ':' after an object key");
      this.#at++;
      this.#space();
      const value = this.#value();
      // "__proto__" must become an own key, as JSON.parse makes it, never the prototype.
      if (key === "__proto__") Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
      else object[key] = value;
    } while (this.#next("}", "an object"));
    return object;
  }
}
