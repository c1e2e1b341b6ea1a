/**
 * JSON.parse's value of a message body, read straight from the received bytes for what most
 * calls and replies carry: an array of strings without escapes, numbers, booleans, null and
 * arrays of those, written without whitespace (as json-text.ts writes them). Node 20 makes a
 * string of the body and then parses it (~300 ns for a three-string call); here each string is
 * one slice of the bytes, and names that repeat from message to message are not made again.
 * Anything else (an object, an escape, whitespace, a syntax error) gives undefined, and the caller
 * takes JSON.parse, which also names the error. The value is the same as JSON.parse's of the
 * bytes decoded as UTF-8 (test/json-array.test.ts compares them). Pure, no I/O.
 */

/** Arrays nested deeper than this are left to JSON.parse. */
const MAX_DEPTH = 64;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
/** Integers of up to this many digits are exact when accumulated in a double. */
const EXACT_DIGITS = 15;

/**
 * Names (object, member, signal) come at the same places in message after message: the last
 * string read at each of the first places is kept, and given again when the bytes are the same.
 */
const lastNames: string[] = [];
const MAX_NAMES = 4;

/** Where the reading is; set by parseJsonArray, moved by the readers below. */
let at = 0;

/**
 * The array in `bytes` from `start` to their end, or undefined when it is outside the fast subset
 * (or not JSON). Its first `names` items, when strings, are names (see lastNames).
 */
export function parseJsonArray(bytes: Buffer, start: number, names = 0): unknown[] | undefined {
  at = start;
  const value = array(bytes, 0, Math.min(names, MAX_NAMES));
  return value !== undefined && at === bytes.length ? value : undefined;
}

function array(bytes: Buffer, depth: number, names: number): unknown[] | undefined {
  if (bytes[at] !== OPEN || depth >= MAX_DEPTH) return undefined;
  at++;
  const items: unknown[] = [];
  if (bytes[at] === CLOSE) {
    at++;
    return items;
  }
  for (;;) {
    const c = bytes[at];
    let item: unknown;
    if (c === QUOTE) item = string(bytes, items.length < names ? items.length : -1);
    else if (c === OPEN) item = array(bytes, depth + 1, 0);
    else if (c === MINUS || isDigit(c)) item = number(bytes);
    else item = literal(bytes);
    if (item === undefined) return undefined;
    items.push(item);
    const next = bytes[at++];
    if (next === CLOSE) return items;
    if (next !== COMMA) return undefined;
  }
}

/** Where the string starting at `at` (its opening quote) ends (its closing quote); -1 outside the subset. */
function stringEnd(bytes: Buffer): number {
  for (let i = at + 1; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) return i;
    // An escape is JSON.parse's; a control character is an error JSON.parse names.
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/** A string; at a name's `place` (0 and up), the last name read there when the bytes are the same. */
function string(bytes: Buffer, place = -1): string | undefined {
  const end = stringEnd(bytes);
  if (end < 0) return undefined;
  const start = at + 1;
  at = end + 1;
  const last = place < 0 ? undefined : lastNames[place];
  if (last !== undefined && sameAscii(bytes, start, end, last)) return last;
  // No encoding named: UTF-8 (cut at ASCII quotes, it decodes as the whole body would).
  const text = bytes.toString(undefined, start, end);
  if (place >= 0) lastNames[place] = text;
  return text;
}

/** Whether bytes[start, end) are the characters of `text`, all ASCII. */
function sameAscii(bytes: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = start; i < end; i++) if (bytes[i] !== text.charCodeAt(i - start) || bytes[i]! > 0x7f) return false;
  return true;
}

/** A number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function number(bytes: Buffer): number | undefined {
  const start = at;
  let i = start;
  const negative = bytes[i] === MINUS;
  if (negative) i++;
  const first = i;
  let integer = 0;
  if (bytes[i] === ZERO) i++;
  else for (let c = bytes[i]; isDigit(c); c = bytes[++i]) integer = integer * 10 + (c - ZERO);
  if (i === first) return undefined;
  const c = bytes[i];
  if (c !== DOT && c !== LOWER_E && c !== UPPER_E && i - first <= EXACT_DIGITS) {
    at = i;
    return negative ? -integer : integer;
  }
  if (c === DOT) {
    const fraction = ++i;
    while (isDigit(bytes[i])) i++;
    if (i === fraction) return undefined;
  }
  const e = bytes[i];
  if (e === LOWER_E || e === UPPER_E) {
    const sign = bytes[++i];
    if (sign === PLUS || sign === MINUS) i++;
    const exponent = i;
    while (isDigit(bytes[i])) i++;
    if (i === exponent) return undefined;
  }
  at = i;
  // The text is JSON's grammar, which Number reads as JSON.parse does.
  return Number(bytes.toString(undefined, start, i));
}

function isDigit(c: number | undefined): c is number {
  return c !== undefined && c >= ZERO && c <= NINE;
}

/** null, true or false; undefined for anything else. */
function literal(bytes: Buffer): boolean | null | undefined {
  const c = bytes[at];
  if (c === 0x6e && bytes[at + 1] === 0x75 && bytes[at + 2] === 0x6c && bytes[at + 3] === 0x6c) {
    at += 4;
    return null;
  }
  if (c === 0x74 && bytes[at + 1] === 0x72 && bytes[at + 2] === 0x75 && bytes[at + 3] === 0x65) {
    at += 4;
    return true;
  }
  if (c === 0x66 && bytes[at + 1] === 0x61 && bytes[at + 2] === 0x6c && bytes[at + 3] === 0x73 && bytes[at + 4] === 0x65) {
    at += 5;
    return false;
  }
  return undefined;
}
