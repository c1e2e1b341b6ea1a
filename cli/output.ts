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
  process.stdout.write(`${json ? JSON.stringify(data, jsonReplacer, 2) : human(data as never)}\n`);
}

/**
 * Prints one item of a stream on one line, as it comes: with `json`, the JSON of print()
 * unindented (undefined as null); else as show() formats it, unindented too.
 */
export function printLine(data: unknown, json: boolean): void {
  const text = !json && typeof data === "string" ? data : (JSON.stringify(json ? (data ?? null) : data, jsonReplacer) ?? String(data));
  process.stdout.write(`${text}\n`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}

/** Formats any value for a terminal. */
export function show(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "undefined";
  return JSON.stringify(value, jsonReplacer, 2) ?? String(value);
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
