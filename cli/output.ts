import { InvalidArgumentError } from "commander";
import { PyroError, RemoteError } from "../src/index.js";
import { MAX_AUTOCLEAN_SECONDS } from "../src/naming/autoclean.js";

/** Exit codes: 0 ok, 1 a remote or user error, 2 a usage error, 130 interrupted (Ctrl-C). */
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
/** Stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** Prints data: JSON when asked, else a readable form. */
export function print(data: unknown, json: boolean, human: (data: never) => string): void {
  process.stdout.write(`${json ? jsonOf(data, 2) : human(data as never)}\n`);
}

/**
 * Prints one item of a stream on one line, as it comes: with `json`, the JSON of print()
 * unindented (undefined as null); else as show() formats it, unindented too.
 */
export function printLine(data: unknown, json: boolean): void {
  process.stdout.write(`${json ? jsonOf(data ?? null) : showOne(data, undefined)}\n`);
}

/** Bytes shown in a readable summary of a binary value; the rest is counted. */
const SHOWN_BYTES = 32;

/** JSON for scripts: bytes as `{"base64": …}` (lossless, and not a byte per line). */
function jsonOf(data: unknown, indent?: number): string {
  return JSON.stringify(data, replacer((bytes) => ({ base64: bytes.toString("base64") })), indent) ?? String(data);
}

/** `<3 bytes: 01 02 ff>`: a camera frame must not fill the terminal with numbers. */
function summary(bytes: Buffer): string {
  const hex = bytes.subarray(0, SHOWN_BYTES).toString("hex").replace(/(..)(?!$)/g, "$1 ");
  return `<${bytes.length} byte${bytes.length === 1 ? "" : "s"}${bytes.length > 0 ? `: ${hex}${bytes.length > SHOWN_BYTES ? " …" : ""}` : ""}>`;
}

/**
 * JSON.stringify's replacer: bigints as strings, Maps as objects, Sets as arrays, and binary
 * values as `binary` makes them. (It reads the holder: a Buffer's toJSON has run before it.)
 */
function replacer(binary: (bytes: Buffer) => unknown): (this: unknown, key: string, value: unknown) => unknown {
  return function (this: unknown, key: string, value: unknown): unknown {
    const original = (this as Record<string, unknown>)[key];
    if (original instanceof Uint8Array) return binary(Buffer.from(original.buffer, original.byteOffset, original.byteLength));
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Map) return Object.fromEntries(value);
    if (value instanceof Set) return [...value];
    return value;
  };
}

function showOne(value: unknown, indent: number | undefined): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "undefined";
  if (value instanceof Uint8Array) return summary(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  return JSON.stringify(value, replacer(summary), indent) ?? String(value);
}

/** Formats any value for a terminal: binary values summarised (`<n bytes: 01 02 …>`). */
export function show(value: unknown): string {
  return showOne(value, 2);
}

/** One line for an error a user can act on; a stack only for what looks like our bug. */
export function describeError(error: unknown): string {
  if (error instanceof RemoteError) return `remote ${error.name}: ${error.message}`;
  if (error instanceof PyroError) return `${error.name}: ${error.message}`;
  if (error instanceof UsageError) return error.message;
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
}

/** A comma-separated list option: "a,b" -> ["a", "b"]. */
export function commaList(value: string): string[] {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError("expected a comma-separated list");
  return items;
}

/** A positive number option (timeouts). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a number > 0");
  return n;
}

/** An autoclean period: 0 (off) or 1 s to about 24 days (the longest Node timer). */
export function autocleanSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || (n !== 0 && (n < 1 || n > MAX_AUTOCLEAN_SECONDS))) {
    throw new InvalidArgumentError(`expected 0 (off) or a number of seconds from 1 to ${MAX_AUTOCLEAN_SECONDS}`);
  }
  return n;
}

/** A port option (0-65535). */
export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("expected a port number (0-65535)");
  return n;
}

/** A user mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
