/**
 * Errors crossing the wire. The daemon turns what a call threw into a plain envelope;
 * the client rebuilds it: as the same class when that class is registered on both sides
 * (pyro-ts's own errors always are), otherwise as a RemoteError carrying the remote
 * name, message, stack and cause.
 */
import * as errors from "../errors.js";
import { PyroError, RemoteError } from "../errors.js";

export interface ErrorEnvelope {
  /** The error's `name`, as shown to the user. */
  readonly name: string;
  /** The name its class is registered under, when registered (`registerError`). */
  readonly type?: string;
  readonly message: string;
  readonly stack?: string;
  readonly cause?: ErrorEnvelope;
  /** Own enumerable properties such as `code`, when they serialize. */
  readonly props?: Record<string, unknown>;
}

type ErrorClass = new (...args: never[]) => Error;

const registry = new Map<string, ErrorClass>();
const registeredNames = new Map<Function, string>();

function register(ctor: ErrorClass, name: string): void {
  registry.set(name, ctor);
  registeredNames.set(ctor, name);
}

for (const value of Object.values(errors)) {
  if (typeof value === "function" && (value === PyroError || value.prototype instanceof PyroError) && value !== RemoteError) {
    register(value as ErrorClass, value.name);
  }
}

/** The registered name of the error's class or of its nearest registered base class. */
function registeredType(error: Error): string | undefined {
  // A RemoteError relayed from further away stays a RemoteError with its original name.
  if (error instanceof RemoteError) return undefined;
  for (let p: object | null = Object.getPrototypeOf(error); p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
    const name = registeredNames.get((p as { constructor: Function }).constructor);
    if (name !== undefined) return name;
  }
  return undefined;
}

/**
 * Registers an error class so that, thrown remotely, it is rebuilt as an instance of
 * the same class (its prototype, message, stack and own properties) instead of a RemoteError.
 * Register it on both sides under the same name (the class name by default).
 */
export function registerError(ctor: ErrorClass, name: string = ctor.name): void {
  if (!name) throw new TypeError("registerError needs a name for an anonymous class");
  register(ctor, name);
}

const MAX_CAUSE_DEPTH = 8;
const RESERVED = new Set(["name", "message", "stack", "cause"]);

function ownProps(error: Error): Record<string, unknown> | undefined {
  let props: Record<string, unknown> | undefined;
  for (const key of Object.keys(error)) {
    if (RESERVED.has(key)) continue;
    const v = (error as unknown as Record<string, unknown>)[key];
    if (typeof v === "function" || typeof v === "symbol") continue;
    (props ??= {})[key] = v;
  }
  return props;
}

/** An envelope for anything a call can throw; non-Error values get name "Error". */
export function toEnvelope(thrown: unknown, depth = 0): ErrorEnvelope {
  if (!(thrown instanceof Error)) {
    return { name: "Error", message: typeof thrown === "string" ? thrown : safeString(thrown) };
  }
  const cause = thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH ? toEnvelope(thrown.cause, depth + 1) : undefined;
  const props = ownProps(thrown);
  const type = registeredType(thrown);
  return {
    name: typeof thrown.name === "string" ? thrown.name : "Error",
    ...(type !== undefined && { type }),
    message: String(thrown.message),
    ...(thrown.stack !== undefined && { stack: String(thrown.stack) }),
    ...(cause && { cause }),
    ...(props && { props }),
  };
}

/** The same envelope without the properties that may not serialize. */
export function withoutProps(envelope: ErrorEnvelope): ErrorEnvelope {
  const { props: _props, cause, ...rest } = envelope;
  return cause ? { ...rest, cause: withoutProps(cause) } : rest;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function isEnvelope(value: unknown): value is ErrorEnvelope {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === "string" && typeof v.message === "string" && (v.stack === undefined || typeof v.stack === "string") && (v.type === undefined || typeof v.type === "string");
}

/** Rebuilds the error an envelope describes. A malformed envelope becomes a ProtocolError. */
export function fromEnvelope(value: unknown, depth = 0): Error {
  if (!isEnvelope(value)) return new errors.ProtocolError("error reply is not a valid error envelope");
  const cause = value.cause !== undefined && depth < MAX_CAUSE_DEPTH ? fromEnvelope(value.cause, depth + 1) : undefined;
  const Registered = value.type === undefined ? undefined : registry.get(value.type);
  if (!Registered) return new RemoteError(value.name, value.message, value.stack, cause === undefined ? undefined : { cause });
  // Built without running the constructor: its parameters are unknown to us.
  const error = Object.create(Registered.prototype) as Error & { remoteStack?: string };
  const define = (key: string, v: unknown): void => {
    Object.defineProperty(error, key, { value: v, writable: true, configurable: true, enumerable: false });
  };
  if (value.props) {
    for (const [key, v] of Object.entries(value.props)) {
      if (key !== "__proto__" && !RESERVED.has(key)) Object.defineProperty(error, key, { value: v, writable: true, configurable: true, enumerable: true });
    }
  }
  define("name", value.name);
  define("message", value.message);
  define("remoteStack", value.stack);
  define("stack", value.stack ?? `${value.name}: ${value.message}`);
  if (cause !== undefined) define("cause", cause);
  return error;
}
