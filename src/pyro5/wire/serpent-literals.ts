/**
 * The lexical layer of the serpent decoder (serpent-parser.ts has the grammar): whitespace and
 * comments, number literals, str and bytes literals with every escape Python defines, and the
 * float text Python's repr() writes (which the encoder uses too). Each scanner reads the text of
 * a Cursor from its position and leaves the position after what it read; malformed text is a
 * SerializeError saying what and where (a byte offset into the payload).
 * Linear in the input: strings are sliced in runs, never built a character at a time.
 */
import { SerializeError } from "../../errors.js";

/** Python's default `sys.int_info.default_max_str_digits`: longer decimal ints are refused there too (and cost quadratic time). */
const MAX_INT_DIGITS = 4300;
const NUMBER = /0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?/y;
const STRING_PREFIXES = new Set(["", "r", "u", "b", "br", "rb"]);
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\x0b",
};

/** What the last value read was, so a float dict key can be named as Python would ("1.0"), and complex numbers built. */
export type NumberKind = "int" | "float" | "complex" | "other";
export interface Complex { real: number; imag: number }

/** The text being decoded, the decoder's position in it (a UTF-16 index), and the kind of the last value read. */
export interface Cursor {
  readonly text: string;
  pos: number;
  kind: NumberKind;
}

/** Throws the SerializeError for `what`, at `at` (default: the cursor's position) as a byte offset. */
export function fail(cursor: Cursor, what: string, at = cursor.pos): never {
  const offset = Buffer.byteLength(cursor.text.slice(0, Math.min(at, cursor.text.length)), "utf8");
  throw new SerializeError(`serpent: ${what} at byte offset ${offset}`);
}

/** The character at the cursor, for error messages. */
export function describeHere(cursor: Cursor): string {
  const c = cursor.text.codePointAt(cursor.pos);
  if (c === undefined) return "unexpected end of data";
  return `unexpected character ${c > 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `U+${c.toString(16).toUpperCase().padStart(4, "0")}`}`;
}

/** Whitespace, newlines, comments and backslash line continuations, as Python's tokenizer skips them inside brackets. */
export function skipSpace(cursor: Cursor): void {
  const text = cursor.text;
  for (;;) {
    const c = text.charCodeAt(cursor.pos);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) cursor.pos++;
    else if (c === 35) {
      while (cursor.pos < text.length && text[cursor.pos] !== "\n" && text[cursor.pos] !== "\r") cursor.pos++;
    } else if (c === 92 && text[cursor.pos + 1] === "\n") cursor.pos += 2;
    else if (c === 92 && text[cursor.pos + 1] === "\r") cursor.pos += text[cursor.pos + 2] === "\n" ? 3 : 2;
    else return;
  }
}

/** A Python int as the value model holds it: a number when exact (|n| < 2^53), else a bigint. */
export function toInt(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

/** Python's `repr(float)` (shortest round-trip digits, exponent below 1e-4 and from 1e16 on). */
export function pythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  const [mantissa = "0", expText = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const shown = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${shown}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** An unsigned int, float or imaginary literal at the cursor; sets the cursor's kind to what it was. */
export function scanNumber(cursor: Cursor): number | bigint | Complex {
  NUMBER.lastIndex = cursor.pos;
  const match = NUMBER.exec(cursor.text);
  if (!match) fail(cursor, `${describeHere(cursor)} where a number was expected`);
  const start = cursor.pos;
  const literal = match[0].replaceAll("_", "");
  cursor.pos += match[0].length;
  if (/[A-Za-z0-9_.]/.test(cursor.text[cursor.pos] ?? "")) fail(cursor, "malformed number", start);
  if (/^0[xob]/i.test(literal)) {
    cursor.kind = "int";
    return toInt(BigInt(literal));
  }
  const last = literal[literal.length - 1];
  if (last === "j" || last === "J") {
    cursor.kind = "complex";
    return { real: 0, imag: Number(literal.slice(0, -1)) };
  }
  if (/[.eE]/.test(literal)) {
    cursor.kind = "float";
    return Number(literal);
  }
  if (/^0+[1-9]/.test(literal)) fail(cursor, "leading zeros in a decimal integer", start);
  if (literal.length > MAX_INT_DIGITS) fail(cursor, `integer of more than ${MAX_INT_DIGITS} digits`, start);
  cursor.kind = "int";
  return literal.length <= 15 ? Number(literal) : toInt(BigInt(literal));
}

/**
 * One or more adjacent string literals at the cursor (Python concatenates `'a' 'b'`), the first
 * one's prefix (`r`, `b`, `rb`…, lower case) already read; str and bytes cannot mix.
 */
export function scanStrings(cursor: Cursor, firstPrefix: string): string | Buffer {
  let prefix = firstPrefix;
  const bytes = prefix.includes("b");
  const parts: string[] = [];
  for (;;) {
    const start = cursor.pos;
    if (!STRING_PREFIXES.has(prefix)) fail(cursor, `string prefix ${JSON.stringify(prefix)} is not a literal`, start);
    if (prefix.includes("b") !== bytes) fail(cursor, "cannot mix bytes and str literals", start);
    cursor.pos += prefix.length;
    scanStringBody(cursor, prefix.includes("r"), bytes, parts);
    const save = cursor.pos;
    skipSpace(cursor);
    const name = /^[A-Za-z]{0,2}/.exec(cursor.text.slice(cursor.pos, cursor.pos + 2))?.[0] ?? "";
    const quote = cursor.text[cursor.pos + name.length];
    if (quote !== "'" && quote !== '"') {
      cursor.pos = save;
      break;
    }
    prefix = name.toLowerCase();
  }
  const joined = parts.join("");
  return bytes ? Buffer.from(joined, "latin1") : joined;
}

/** One quoted body (single or triple quotes) at the cursor, its text pushed to `parts` in runs. */
function scanStringBody(cursor: Cursor, raw: boolean, bytes: boolean, parts: string[]): void {
  const text = cursor.text;
  const start = cursor.pos;
  const quote = text.charCodeAt(cursor.pos);
  const triple = text.charCodeAt(cursor.pos + 1) === quote && text.charCodeAt(cursor.pos + 2) === quote;
  cursor.pos += triple ? 3 : 1;
  let run = cursor.pos;
  for (;;) {
    const c = text.charCodeAt(cursor.pos);
    if (c === quote && (!triple || (text.charCodeAt(cursor.pos + 1) === quote && text.charCodeAt(cursor.pos + 2) === quote))) break;
    if (Number.isNaN(c)) fail(cursor, "unterminated string", start);
    if (c === 92 && raw) {
      // In a raw literal a backslash stays, and the quote, backslash or newline after it is plain text.
      const next = text.charCodeAt(cursor.pos + 1);
      cursor.pos += next === quote || next === 92 || next === 10 || next === 13 ? 2 : 1;
      continue;
    }
    if (c === 92) {
      parts.push(text.slice(run, cursor.pos));
      scanEscape(cursor, bytes, parts);
      run = cursor.pos;
      continue;
    }
    if ((c === 10 || c === 13) && !triple) fail(cursor, "newline in a single-quoted string");
    if (bytes && c > 127) fail(cursor, "non-ASCII character in a bytes literal");
    cursor.pos++;
  }
  parts.push(text.slice(run, cursor.pos));
  cursor.pos += triple ? 3 : 1;
}

/** One backslash escape at the cursor, as Python's string literals define them. */
function scanEscape(cursor: Cursor, bytes: boolean, parts: string[]): void {
  const text = cursor.text;
  const escapeAt = cursor.pos;
  const e = text[cursor.pos + 1];
  if (e === undefined) fail(cursor, "unterminated string");
  cursor.pos += 2;
  if (e === "\n") return;
  if (e === "\r") {
    if (text[cursor.pos] === "\n") cursor.pos++;
    return;
  }
  const simple = SIMPLE_ESCAPES[e];
  if (simple !== undefined) {
    parts.push(simple);
    return;
  }
  if (e >= "0" && e <= "7") {
    const octal = /^[0-7]{1,3}/.exec(text.slice(cursor.pos - 1, cursor.pos + 2))?.[0] ?? e;
    cursor.pos += octal.length - 1;
    // In bytes Python keeps the low 8 bits of an escape above \377 (with a DeprecationWarning).
    const code = parseInt(octal, 8);
    parts.push(String.fromCharCode(bytes ? code & 0xff : code));
    return;
  }
  const hexLength = e === "x" ? 2 : bytes ? 0 : e === "u" ? 4 : e === "U" ? 8 : 0;
  if (hexLength > 0) {
    const hex = text.slice(cursor.pos, cursor.pos + hexLength);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== hexLength) fail(cursor, `truncated \\${e} escape`, escapeAt);
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) fail(cursor, `\\${e} escape beyond U+10FFFF`, escapeAt);
    cursor.pos += hexLength;
    parts.push(String.fromCodePoint(code));
    return;
  }
  if (e === "N" && !bytes) fail(cursor, "\\N{name} escapes are not supported", escapeAt);
  // Python keeps an unknown escape as written; the character itself is scanned normally.
  parts.push("\\");
  cursor.pos = escapeAt + 1;
}
