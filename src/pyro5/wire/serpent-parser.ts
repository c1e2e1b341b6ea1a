/**
 * Decoder of serpent, the Python-literal text Pyro5 sends by default: a recursive-descent parser of
 * the literal subset Python's `ast.literal_eval` accepts and serpent 1.41 writes (None/True/False,
 * ints, floats, complex, str/bytes literals with every escape, tuples, lists, dicts, sets). This is
 * the grammar; the tokens (whitespace, numbers, strings) are scanned by serpent-literals.ts.
 * Linear in the input (Node 20: a 1 MB list of numbers and strings decodes in 30-70 ms, 10 MB of
 * escaped text in ~0.2 s).
 */
import { SerializeError } from "../../errors.js";
import {
  describeHere, fail, pythonFloatRepr, scanNumber, scanStrings, skipSpace, toInt, type Complex, type Cursor, type NumberKind,
} from "./serpent-literals.js";

export { pythonFloatRepr };

/** Deeper nesting is refused so that hostile input cannot exhaust the stack (Python's own parser stops at 200). */
const MAX_DEPTH = 1000;
const HEADER_LINE = /^# serpent utf-8 python\d+\.\d+\r?$/;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const EMPTY_SET = /set[ \t\f\r\n]*\([ \t\f\r\n]*\)/y;
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Parses a serpent payload into the pyro5 value model; malformed input is a SerializeError saying where. */
export function decodeSerpent(payload: Buffer): unknown {
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    throw new SerializeError("serpent: payload is not valid UTF-8");
  }
  return new SerpentParser(text).parseDocument();
}

/** The value by which Python compares a numeric (or bool) dict key, as a Map key; undefined for others. */
function numericIdentity(key: unknown): number | bigint | undefined {
  if (typeof key === "boolean") return Number(key);
  if (typeof key === "bigint") return toInt(key);
  if (typeof key !== "number" || Number.isNaN(key)) return undefined;
  return Number.isInteger(key) && !Number.isSafeInteger(key) ? BigInt(key) : key === 0 ? 0 : key;
}

function setProperty(target: Record<string, unknown>, key: string, value: unknown): void {
  // "__proto__" must become an own property, not a prototype change.
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** serpent's stand-ins: bytes as {'data': base64, 'encoding': 'base64'}, NaN as {'__class__': 'float', 'value': 'nan'}. */
function specialDict(dict: Record<string, unknown>, keys: readonly string[]): unknown {
  if (keys.length !== 2) return dict;
  if (dict.encoding === "base64" && typeof dict.data === "string" && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(dict.data)) {
    return Buffer.from(dict.data, "base64");
  }
  if (dict.__class__ === "float" && typeof dict.value === "string") {
    const text = dict.value.trim().toLowerCase();
    const special = /^([+-]?)(nan|inf|infinity)$/.exec(text);
    if (special) return special[2] === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity;
    if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/.test(text)) return Number(text);
  }
  return dict;
}

/** The parser is the Cursor the scanners of serpent-literals.ts read from and advance. */
class SerpentParser implements Cursor {
  pos = 0;
  /** What the last parsed value was, so a float dict key can be named as Python would ("1.0"). */
  kind: NumberKind = "other";
  private depth = 0;

  constructor(readonly text: string) {}

  parseDocument(): unknown {
    const nul = this.text.indexOf("\0");
    if (nul >= 0) this.fail("NUL character (serpent.loads refuses them too)", nul);
    if (this.text.startsWith("# serpent")) {
      const end = this.text.indexOf("\n");
      const line = this.text.slice(0, end < 0 ? this.text.length : end);
      if (!HEADER_LINE.test(line)) this.fail(`bad serpent header ${JSON.stringify(line.slice(0, 60))}`, 0);
    }
    const value = this.parseValue();
    skipSpace(this);
    if (this.text[this.pos] === ",") {
      // literal_eval reads `1, 2` (and `1,`) as a tuple; serpent never writes it.
      const items = [value];
      this.depth++;
      this.pos++;
      this.parseItems(undefined, (item) => items.push(item));
      return items;
    }
    if (this.pos < this.text.length) this.fail("unexpected data after the value");
    return value;
  }

  private fail(what: string, at = this.pos): never {
    return fail(this, what, at);
  }

  /** Past an opening bracket, one level deeper. */
  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.pos++;
  }

  /** Past a closing bracket, one level up. */
  private leave(): void {
    this.pos++;
    this.depth--;
  }

  private parseValue(): unknown {
    skipSpace(this);
    const c = this.text.charCodeAt(this.pos);
    if ((c >= 48 && c <= 57) || c === 46 || c === 45 || c === 43) return this.complexTail(this.parseSigned());
    if (c === 40) return this.complexTail(this.parseParen());
    let value: unknown;
    if (c === 91) value = this.parseList();
    else if (c === 123) value = this.parseBrace();
    else if (c === 39 || c === 34) value = scanStrings(this, "");
    else value = this.parseName();
    this.kind = "other";
    return value;
  }

  /** literal_eval's only arithmetic: a (signed) real number `+`/`-` an imaginary one (serpent writes `(1.0-2.0j)`). */
  private complexTail(real: unknown): unknown {
    if (this.kind !== "int" && this.kind !== "float") return real;
    const save = this.pos;
    skipSpace(this);
    const op = this.text[this.pos];
    if (op !== "+" && op !== "-") {
      this.pos = save;
      return real;
    }
    this.pos++;
    const imag = this.parseOperand();
    if ((this.kind as NumberKind) !== "complex") this.fail("only an imaginary number may follow '+' or '-'");
    const part = (imag as Complex).imag;
    this.kind = "complex";
    // As Python computes it: the real number becomes (real, 0.0) first, so the zeros' signs follow.
    return op === "+" ? { real: Number(real) + 0, imag: 0 + part } : { real: Number(real) - 0, imag: 0 - part };
  }

  private parseSigned(): unknown {
    const sign = this.text[this.pos];
    if (sign !== "-" && sign !== "+") return scanNumber(this);
    this.pos++;
    const value = this.parseOperand();
    if (sign === "+") return value;
    if (typeof value === "bigint") return toInt(-value);
    if (typeof value === "number") return this.kind === "int" && value === 0 ? 0 : -value;
    const complex = value as Complex;
    return { real: -complex.real, imag: -complex.imag };
  }

  /** An unsigned number literal, in as many parentheses as you like (`-(1)` is a literal to Python). */
  private parseOperand(): unknown {
    skipSpace(this);
    if (this.text[this.pos] !== "(") return scanNumber(this);
    this.enter();
    const value = this.parseOperand();
    skipSpace(this);
    if (this.text[this.pos] !== ")") this.fail(`${describeHere(this)} where ')' was expected`);
    this.leave();
    return value;
  }

  /** `()` empty tuple, `(x)` a parenthesized value, `(x,)` / `(x, y)` tuples; tuples decode as arrays. */
  private parseParen(): unknown {
    this.enter();
    skipSpace(this);
    if (this.text[this.pos] === ")") {
      this.leave();
      this.kind = "other";
      return [];
    }
    const first = this.parseValue();
    skipSpace(this);
    if (this.text[this.pos] === ")") {
      this.leave();
      return first;
    }
    if (this.text[this.pos] !== ",") this.fail(`${describeHere(this)} where ',' or ')' was expected`);
    const items = [first];
    this.pos++;
    this.parseItems(")", (item) => items.push(item));
    this.kind = "other";
    return items;
  }

  private parseList(): unknown[] {
    this.enter();
    const items: unknown[] = [];
    this.parseItems("]", (item) => items.push(item));
    return items;
  }

  /** Items up to `close` (undefined: the end of the text), separated by commas, a trailing comma allowed; consumes `close`. */
  private parseItems(close: string | undefined, add: (item: unknown) => void): void {
    for (;;) {
      skipSpace(this);
      if (this.text[this.pos] === close) break;
      add(this.parseValue());
      skipSpace(this);
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`${describeHere(this)} where ',' or ${close === undefined ? "the end" : `'${close}'`} was expected`);
    }
    this.leave();
  }

  /** `{}` is an empty dict; `{k: v, …}` a dict; `{a, b}` a set. */
  private parseBrace(): unknown {
    this.enter();
    skipSpace(this);
    if (this.text[this.pos] === "}") {
      this.leave();
      return {};
    }
    const keyStart = this.pos;
    const first = this.parseValue();
    skipSpace(this);
    if (this.text[this.pos] !== ":") {
      const set = new Set<unknown>([first]);
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== "}") this.fail(`${describeHere(this)} where ',' or '}' was expected`);
      this.parseItems("}", (item) => set.add(item));
      return set;
    }
    const merged = new Map<number | bigint, string>();
    return this.parseDictRest(this.dictKey(first, keyStart, merged), merged);
  }

  private parseDictRest(firstKey: string, merged: Map<number | bigint, string>): unknown {
    const dict: Record<string, unknown> = {};
    let key = firstKey;
    for (;;) {
      this.pos++; // the ':'
      setProperty(dict, key, this.parseValue());
      skipSpace(this);
      if (this.text[this.pos] === ",") {
        this.pos++;
        skipSpace(this);
      } else if (this.text[this.pos] !== "}") this.fail(`${describeHere(this)} where ',' or '}' was expected`);
      if (this.text[this.pos] === "}") break;
      const keyStart = this.pos;
      key = this.dictKey(this.parseValue(), keyStart, merged);
      skipSpace(this);
      if (this.text[this.pos] !== ":") this.fail(`${describeHere(this)} where ':' was expected`);
    }
    this.leave();
    return specialDict(dict, Object.keys(dict));
  }

  /** A key's name; Python merges keys that compare equal (1, 1.0, True): the first one's name stays, the last value wins. */
  private dictKey(key: unknown, at: number, merged: Map<number | bigint, string>): string {
    const text = this.keyText(key, at);
    const identity = numericIdentity(key);
    if (identity === undefined) return text;
    const first = merged.get(identity);
    if (first !== undefined) return first;
    merged.set(identity, text);
    return text;
  }

  /** Non-str keys become the text Python's json.dumps gives them; keys json cannot carry are refused. */
  private keyText(key: unknown, at: number): string {
    if (typeof key === "string") return key;
    if (typeof key === "boolean") return key ? "true" : "false";
    if (key === null) return "null";
    if (typeof key === "bigint") return key.toString();
    // A float literal is never NaN; 1e30000 is infinite.
    if (typeof key === "number" && this.kind === "float") return Number.isFinite(key) ? pythonFloatRepr(key) : key > 0 ? "Infinity" : "-Infinity";
    if (typeof key === "number" && this.kind === "int") return String(key);
    const kind = Array.isArray(key) ? "tuple" : this.kind === "complex" ? "complex" : Buffer.isBuffer(key) ? "bytes" : key instanceof Set ? "set" : "dict";
    return this.fail(`a dict key of type ${kind} cannot be a property name`, at);
  }

  private parseName(): unknown {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.text);
    if (!match) this.fail(describeHere(this));
    const name = match[0];
    const next = this.text[this.pos + name.length];
    if (name.length <= 2 && (next === "'" || next === '"')) return scanStrings(this, name.toLowerCase());
    const start = this.pos;
    this.pos += name.length;
    if (name === "None") return null;
    if (name === "True") return true;
    if (name === "False") return false;
    // literal_eval (Python 3.9+) reads `set()` as the empty set; serpent itself writes `()`.
    EMPTY_SET.lastIndex = start;
    if (name === "set" && EMPTY_SET.test(this.text)) {
      this.pos = EMPTY_SET.lastIndex;
      return new Set();
    }
    return this.fail(`unexpected name ${JSON.stringify(name.slice(0, 40))}`, start);
  }
}
