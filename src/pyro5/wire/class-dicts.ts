/**
 * Pyro5's "__class__" dicts (PYRO5-WIRE.md §7), the same in every serializer: exceptions,
 * URIs, proxies and the batch _ExceptionWrapper. The serializers leave them as plain objects;
 * they are read and built here. A Python peer rebuilds only builtins.* and Pyro5.errors.*
 * exceptions (anything else becomes a SerializeError there), so errors are mapped onto those.
 */
import {
  CommunicationError, ConnectionClosedError, DaemonError, MessageTooLargeError, NamingError, ProtocolError,
  PyroError, RemoteError, SecurityError, SerializeError, TimeoutError, UnknownMemberError,
} from "../../errors.js";
import { PythonError, type PythonExceptionInfo } from "./python-error.js";

export type { PythonExceptionInfo };

/**
 * Why a proxy (an ES Proxy: pyro-ts's Remote or Pyro5Remote) is refused as a value: it has no
 * state to send (it would arrive as an empty dict). Its URI is what a Python daemon can use.
 */
export const PROXY_HINT = "a proxy cannot be sent as a value: pass its $uri (a Python daemon can make a proxy of it with Pyro5.api.Proxy)";

export const URI_CLASS = "Pyro5.core.URI";
export const PROXY_CLASS = "Pyro5.client.Proxy";
export const EXCEPTION_WRAPPER_CLASS = "Pyro5.core._ExceptionWrapper";
/** The classes of Pyro5/errors.py: a Python peer rebuilds `Pyro5.errors.<one of these>`. */
export const PYRO5_ERROR_CLASSES: readonly string[] = [
  "PyroError", "CommunicationError", "ConnectionClosedError", "TimeoutError", "ProtocolError",
  "MessageTooLargeError", "NamingError", "DaemonError", "SecurityError", "SerializeError",
];

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Set) && !(value instanceof Map) && !Buffer.isBuffer(value);
}

export function isClassDict(value: unknown): value is { __class__: string } {
  return isDict(value) && typeof value.__class__ === "string";
}

/** Whether a Python peer can turn an exception dict of this class back into an exception. */
export function isRebuildableByPython(pythonType: string): boolean {
  if (pythonType.includes("__")) return false; // Pyro5 refuses those as a SecurityError
  if (pythonType.startsWith("Pyro5.errors.")) return PYRO5_ERROR_CLASSES.includes(pythonType.slice("Pyro5.errors.".length));
  return /^builtins\.[A-Za-z_][A-Za-z0-9_]*$/.test(pythonType);
}

/** The exception an exception dict describes; undefined when `value` is none. */
export function exceptionFromDict(value: unknown): PythonExceptionInfo | undefined {
  if (!isClassDict(value)) return undefined;
  const pythonType = value.__class__;
  const fields = value as Dict;
  if (fields.__exception__ !== true && !pythonType.startsWith("Pyro5.errors.")) return undefined;
  const args = Array.isArray(fields.args) ? fields.args : fields.args === undefined || fields.args === null ? [] : [fields.args];
  const { _pyroTraceback: lines, ...attributes } = isDict(fields.attributes) ? fields.attributes : {};
  const traceback = Array.isArray(lines) ? lines.map(String).join("") : typeof lines === "string" ? lines : undefined;
  return traceback === undefined ? { pythonType, args, attributes } : { pythonType, args, traceback, attributes };
}

/** The exception inside a batch result's _ExceptionWrapper dict; undefined when `value` is none. */
export function exceptionFromWrapperDict(value: unknown): PythonExceptionInfo | undefined {
  return isClassDict(value) && value.__class__ === EXCEPTION_WRAPPER_CLASS ? exceptionFromDict((value as Dict).exception) : undefined;
}

// Most specific first: the first class `error` is an instance of decides.
const PYTHON_CLASS_OF: readonly (readonly [abstract new (...args: never[]) => Error, string])[] = [
  [UnknownMemberError, "builtins.AttributeError"],
  [ConnectionClosedError, "Pyro5.errors.ConnectionClosedError"],
  [TimeoutError, "Pyro5.errors.TimeoutError"],
  [MessageTooLargeError, "Pyro5.errors.MessageTooLargeError"],
  [SerializeError, "Pyro5.errors.SerializeError"],
  [ProtocolError, "Pyro5.errors.ProtocolError"],
  [CommunicationError, "Pyro5.errors.CommunicationError"],
  [NamingError, "Pyro5.errors.NamingError"],
  [DaemonError, "Pyro5.errors.DaemonError"],
  [SecurityError, "Pyro5.errors.SecurityError"],
  [RemoteError, "builtins.RuntimeError"], // another peer's error: Python has no class for it
  [PyroError, "Pyro5.errors.PyroError"],
  [TypeError, "builtins.TypeError"],
  [RangeError, "builtins.ValueError"],
];
const FALLBACK_CLASS = "builtins.RuntimeError";

/** Lines as Python's traceback lists them, each ending in a newline. */
function tracebackLines(text: string): string[] {
  return (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).map((line) => (line.endsWith("\n") ? line : `${line}\n`));
}

/**
 * The exception dict a Python peer raises for `error`: TypeError → builtins.TypeError,
 * RangeError → builtins.ValueError, UnknownMemberError → builtins.AttributeError, pyro-ts
 * errors → the Pyro5.errors class of the same name (a subclass Pyro5 lacks → its nearest
 * ancestor, its name kept in the message), a PythonError → its own class when Python can
 * rebuild it; anything else → builtins.RuntimeError("<name>: <message>").
 * The stack goes along as `_pyroTraceback`, which Pyro5.errors.get_pyro_traceback prints.
 */
export function errorToExceptionDict(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) {
    return exceptionDict(FALLBACK_CLASS, [`thrown value: ${describeThrown(error)}`], [`thrown value: ${describeThrown(error)}\n`], {});
  }
  const stack = tracebackLines(typeof error.stack === "string" ? error.stack : `${error.name}: ${error.message}`);
  if (error instanceof PythonError) {
    const traceback = error.remoteStack === undefined ? null : tracebackLines(error.remoteStack);
    if (isRebuildableByPython(error.pythonType)) return exceptionDict(error.pythonType, error.args, traceback, error.attributes);
    return exceptionDict(FALLBACK_CLASS, [`${error.pythonType}: ${error.message}`], traceback, {});
  }
  const mapping = PYTHON_CLASS_OF.find(([cls]) => error instanceof cls);
  if (mapping === undefined || mapping[1] === FALLBACK_CLASS) return exceptionDict(FALLBACK_CLASS, [`${error.name}: ${error.message}`], stack, {});
  // The JavaScript name goes into the message when Python's class is not exactly this one.
  const exact = error.constructor === mapping[0];
  return exceptionDict(mapping[1], [exact ? error.message : `${error.name}: ${error.message}`], stack, {});
}

/** The batch-result form of an error: Pyro5's _ExceptionWrapper around its exception dict. */
export function errorToExceptionWrapperDict(error: unknown): Record<string, unknown> {
  return { __class__: EXCEPTION_WRAPPER_CLASS, exception: errorToExceptionDict(error) };
}

function exceptionDict(pythonType: string, args: readonly unknown[], traceback: string[] | null, attributes: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { __class__: pythonType, __exception__: true, args: [...args], attributes: { ...attributes, _pyroTraceback: traceback } };
}

function describeThrown(value: unknown): string {
  try {
    return typeof value === "string" ? value : `${typeof value} ${String(value)}`;
  } catch {
    return typeof value;
  }
}

/** A URI dict as Pyro5's str(URI) writes it: "PYRO:id@host:port", "PYRO:id@./u:path", "PYRONAME:name"; undefined when `value` is none. */
export function uriFromDict(value: unknown): string | undefined {
  if (!isClassDict(value) || value.__class__ !== URI_CLASS) return undefined;
  const state = (value as Dict).state;
  if (!Array.isArray(state) || state.length !== 5) return undefined;
  const [protocol, object, sockname, host, port] = state as unknown[];
  if (typeof protocol !== "string") return undefined;
  let text: string;
  if (protocol === "PYROMETA" && Array.isArray(object) && object.every((tag) => typeof tag === "string")) text = `PYROMETA:${object.join(",")}`;
  else if (typeof object === "string") text = `${protocol}:${object}`;
  else return undefined;
  if (typeof host === "string" && host !== "") {
    if (!Number.isInteger(port)) return undefined;
    return `${text}@${host.includes(":") ? `[${host}]` : host}:${port as number}`;
  }
  if (typeof sockname === "string" && sockname !== "") return `${text}@./u:${sockname}`;
  return text;
}

const URI_PATTERN = /^([Pp][Yy][Rr][Oo][a-zA-Z]*):(\S+?)(?:@(.+))?$/;
/** Pyro5's config.NS_PORT: the port a PYRONAME/PYROMETA location without one means. */
const NS_PORT = 9090;

/** The URI dict Pyro5 rebuilds a URI from (parsed as Pyro5's URI class does); NamingError when it is not one. */
export function uriToDict(uri: string): Record<string, unknown> {
  const fail = (problem: string): never => {
    throw new NamingError(`invalid Pyro5 uri ${JSON.stringify(uri)}: ${problem}`);
  };
  const match = URI_PATTERN.exec(uri);
  if (!match) return fail("not PYRO:<object>@<location>");
  const protocol = match[1]!.toUpperCase();
  const location = match[3];
  let object: string | string[] = match[2]!;
  if (protocol === "PYROMETA") object = [...new Set(object.split(",").map((tag) => tag.trim()))];
  else if (protocol === "PYRO" && location === undefined) fail("a PYRO uri needs a location");
  else if (protocol !== "PYRO" && protocol !== "PYRONAME") fail(`unknown protocol ${protocol}`);
  let sockname: string | null = null;
  let host: string | null = null;
  let port: number | null = null;
  if (location?.startsWith("./u:")) {
    sockname = location.slice(4);
    if (sockname === "" || sockname.includes(":")) fail("bad unix socket location");
  } else if (location !== undefined) {
    let portText: string | undefined;
    if (location.startsWith("[")) {
      const ipv6 = /^\[([0-9a-fA-F:%]+)\](?::(\d+))?/.exec(location) ?? fail("the part between brackets must be a numeric IPv6 address");
      host = ipv6[1]!;
      portText = ipv6[2];
    } else {
      const colon = location.indexOf(":");
      host = colon < 0 ? location : location.slice(0, colon);
      portText = colon < 0 ? undefined : location.slice(colon + 1);
    }
    if (!portText) {
      if (protocol === "PYRO") fail("a PYRO uri needs a port");
      port = NS_PORT;
    } else if (/^\d+$/.test(portText)) port = Number(portText);
    else fail(`bad port ${JSON.stringify(portText)}`);
  }
  return { __class__: URI_CLASS, state: [protocol, object, sockname, host, port] };
}

export interface Pyro5ProxyState {
  readonly uri: string;
  readonly oneway: string[];
  readonly methods: string[];
  readonly attrs: string[];
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** A proxy dict (Pyro5's auto-proxy of a returned Pyro object); undefined when `value` is none. */
export function proxyFromDict(value: unknown): Pyro5ProxyState | undefined {
  if (!isClassDict(value) || value.__class__ !== PROXY_CLASS) return undefined;
  const state = (value as Dict).state;
  if (!Array.isArray(state) || state.length < 4) return undefined;
  const [uri, oneway, methods, attrs] = state as unknown[];
  if (typeof uri !== "string" || !isStringList(oneway) || !isStringList(methods) || !isStringList(attrs)) return undefined;
  return { uri, oneway: [...oneway], methods: [...methods], attrs: [...attrs] };
}

/** The proxy dict a Python peer turns into a Pyro5 Proxy (its serializer left to the Python side). */
export function proxyToDict(proxy: Pyro5ProxyState, handshake: unknown = "hello"): Record<string, unknown> {
  return { __class__: PROXY_CLASS, state: [proxy.uri, [...proxy.oneway], [...proxy.methods], [...proxy.attrs], handshake, null] };
}
