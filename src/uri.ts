import { NamingError } from "./errors.js";

/**
 * Pyro URIs, parsed and formatted:
 *
 *   PYRO:<objectId>@<host>:<port>        an object on a TCP daemon (IPv6 host as [::1])
 *   PYRO:<objectId>@./u:<path>           an object on an IPC (unix socket) daemon
 *   PYRONAME:<name>[@<host>:<port>]      a name to resolve through a nameserver
 *   PYROMETA:<tag>[,<tag>...][@<host>:<port>]  any registration carrying all tags
 *
 * A PYRO URI of a daemon using CURVE ends in `?key=<its public key>` (Z85, percent-encoded);
 * one served over the TCP transport instead of ZeroMQ carries `?transport=tcp`, and, when it
 * encrypts with TLS, its certificate's fingerprint after it (`&tls=sha256:…`). No marker means ZeroMQ.
 *
 * `formatUri(parseUri(s)) === s` for every URI this module produces.
 */

export type UriProtocol = "PYRO" | "PYRONAME" | "PYROMETA";

export interface TcpLocation {
  readonly transport: "tcp";
  readonly host: string;
  readonly port: number;
}

export interface IpcLocation {
  readonly transport: "ipc";
  readonly path: string;
}

export type Location = TcpLocation | IpcLocation;

export interface PyroUri {
  readonly protocol: UriProtocol;
  /** Object id (PYRO), logical name (PYRONAME) or comma-separated tags (PYROMETA). */
  readonly object: string;
  /** Required for PYRO; optional (the nameserver's) for PYRONAME and PYROMETA. */
  readonly location?: Location;
  /** The daemon's CURVE public key (Z85), when it encrypts. */
  readonly key?: string;
  /** "tcp" when the daemon is reached over the TCP transport; absent: ZeroMQ. */
  readonly transport?: "tcp";
  /** The TLS fingerprint of a daemon on the TCP transport that encrypts (`sha256:` and 43 base64url characters). */
  readonly tls?: string;
}

const PROTOCOLS: readonly UriProtocol[] = ["PYRO", "PYRONAME", "PYROMETA"];
const IPC_MARKER = "./u:";
// Ids and names: anything printable except separators that would make the URI ambiguous.
const OBJECT_PATTERN = /^[^\s@/\\?#]+$/;

function fail(text: string, problem: string): never {
  throw new NamingError(`invalid URI ${JSON.stringify(text)}: ${problem}`);
}

/** Checks an object id or name as used in a URI; throws NamingError naming the problem. */
export function validateObjectId(id: string): void {
  if (typeof id !== "string" || id.length === 0) throw new NamingError("object id must be a non-empty string");
  if (id.length > 1024) throw new NamingError("object id is longer than 1024 characters");
  if (!OBJECT_PATTERN.test(id)) {
    throw new NamingError(`object id ${JSON.stringify(id)} contains whitespace or one of @ / \\ ? #`);
  }
}

function parsePort(text: string, portText: string): number {
  if (!/^\d{1,5}$/.test(portText)) fail(text, `port ${JSON.stringify(portText)} is not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) fail(text, `port ${port} is outside 1-65535`);
  return port;
}

function parseLocation(text: string, where: string): Location {
  if (where.startsWith(IPC_MARKER)) {
    const path = where.slice(IPC_MARKER.length);
    if (path.length === 0) fail(text, "IPC socket path is empty");
    return { transport: "ipc", path };
  }
  if (where.startsWith("[")) {
    const close = where.indexOf("]");
    if (close < 0) fail(text, "IPv6 host is missing its closing ']'");
    const host = where.slice(1, close);
    if (!host.includes(":")) fail(text, `${JSON.stringify(host)} in brackets is not an IPv6 address`);
    if (where[close + 1] !== ":") fail(text, "port is missing after the IPv6 host");
    return { transport: "tcp", host, port: parsePort(text, where.slice(close + 2)) };
  }
  const colon = where.lastIndexOf(":");
  if (colon < 0) fail(text, "port is missing (expected host:port)");
  const host = where.slice(0, colon);
  if (host.length === 0) fail(text, "host is empty");
  if (host.includes(":")) fail(text, "IPv6 hosts must be written in brackets, as [::1]:port");
  if (!/^[A-Za-z0-9._-]+$/.test(host)) fail(text, `host ${JSON.stringify(host)} has invalid characters`);
  return { transport: "tcp", host, port: parsePort(text, where.slice(colon + 1)) };
}

/** Parses a PYRO, PYRONAME or PYROMETA URI; throws NamingError naming what is wrong. */
export function parseUri(text: string): PyroUri {
  if (typeof text !== "string") throw new NamingError("URI must be a string");
  const colon = text.indexOf(":");
  const at0 = text.indexOf("@");
  if (colon < 0 || (at0 >= 0 && at0 < colon)) fail(text, "missing protocol (expected PYRO:, PYRONAME: or PYROMETA:)");
  const protocol = text.slice(0, colon).toUpperCase() as UriProtocol;
  if (!PROTOCOLS.includes(protocol)) fail(text, `unknown protocol ${JSON.stringify(text.slice(0, colon))}`);
  const rest = text.slice(colon + 1);
  const at = rest.indexOf("@");
  const object = at < 0 ? rest : rest.slice(0, at);
  if (object.length === 0) fail(text, protocol === "PYROMETA" ? "no tags" : "object id is empty");
  if (!OBJECT_PATTERN.test(object)) fail(text, `object ${JSON.stringify(object)} contains whitespace or one of @ / \\ ? #`);
  if (protocol === "PYROMETA" && object.split(",").some((tag) => tag.length === 0)) fail(text, "empty tag in the tag list");
  if (at < 0) {
    if (protocol === "PYRO") fail(text, "location is missing (expected PYRO:id@host:port or PYRO:id@./u:path)");
    return { protocol, object };
  }
  const where = rest.slice(at + 1);
  const question = where.indexOf("?");
  if (question < 0) return { protocol, object, location: parseLocation(text, where) };
  return { protocol, object, location: parseLocation(text, where.slice(0, question)), ...parseParameters(text, where.slice(question + 1)) };
}

/** A CURVE key in Z85: 40 characters of ZeroMQ's Z85 alphabet. */
export const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** `key=<Z85 public key>`, or `transport=tcp` and then perhaps `tls=<fingerprint>`. */
function parseParameters(text: string, query: string): { key?: string; transport?: "tcp"; tls?: string } {
  const parts = query.split("&");
  const unknown = (): never => fail(text, `unknown URI parameters ${JSON.stringify(query)} (key=<Z85 public key>, or transport=tcp and tls=<fingerprint>)`);
  const parameters: { key?: string; transport?: "tcp"; tls?: string } = {};
  if (parts[0]?.startsWith("key=")) parameters.key = parseKey(text, parts.shift()!.slice("key=".length));
  else if (parts[0] === "transport=tcp") {
    parameters.transport = "tcp";
    parts.shift();
    if (parts[0]?.startsWith("tls=")) {
      const fingerprint = parts.shift()!.slice("tls=".length);
      if (!/^sha256:[A-Za-z0-9_-]{43}$/.test(fingerprint)) fail(text, "tls is not a fingerprint (sha256: and 43 base64url characters)");
      parameters.tls = fingerprint;
    }
  }
  if (parts.length > 0 || Object.keys(parameters).length === 0) unknown();
  return parameters;
}

function parseKey(text: string, encoded: string): string {
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    fail(text, "key is not properly percent-encoded");
  }
  if (!Z85_KEY.test(key)) fail(text, "key is not a 40-character Z85 CURVE public key");
  return key;
}

/** Formats a location as it appears after the `@` of a URI. */
export function formatLocation(location: Location): string {
  if (location.transport === "ipc") return IPC_MARKER + location.path;
  return location.host.includes(":") ? `[${location.host}]:${location.port}` : `${location.host}:${location.port}`;
}

export function formatUri(uri: PyroUri): string {
  const base = `${uri.protocol}:${uri.object}`;
  if (!uri.location) return base;
  const parameters = [...(uri.key ? [`key=${encodeURIComponent(uri.key)}`] : []), ...(uri.transport === "tcp" ? ["transport=tcp"] : []), ...(uri.tls ? [`tls=${uri.tls}`] : [])];
  return `${base}@${formatLocation(uri.location)}${parameters.length ? `?${parameters.join("&")}` : ""}`;
}

/** The ZeroMQ endpoint for a location: tcp://host:port or ipc:///path. */
export function endpointOf(location: Location): string {
  if (location.transport === "ipc") return `ipc://${location.path}`;
  return `tcp://${location.host.includes(":") ? `[${location.host}]` : location.host}:${location.port}`;
}

/** Accepts a URI string or a parsed one. */
export function toUri(uri: string | PyroUri): PyroUri {
  return typeof uri === "string" ? parseUri(uri) : uri;
}
