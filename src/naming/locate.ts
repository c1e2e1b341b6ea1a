import { networkInterfaces } from "node:os";
import { NamingError, SecurityError } from "../errors.js";
import { connect as connectUri, DEFAULT_TIMEOUT, type ConnectOptions } from "../proxy/connect.js";
import { validCallTimeout, validTimeout } from "../proxy/proxy.js";
import type { Remote } from "../proxy/remote.js";
import { formatUri, parseUri, type PyroUri } from "../uri.js";
import { FINGERPRINT_PATTERN } from "../transport/tls/tls-identity.js";
import type { TransportKind } from "../transport/transport.js";
import { discoverNsUri } from "../ns-broadcast.js";
import { DEFAULT_BROADCAST_PORT, DEFAULT_NS_PORT, NAMESERVER_NAME, parseHostPort } from "../names.js";
import type { NameServer } from "./nameserver.js";
import { autostartNameServer, autostartSettings, type AutostartOptions } from "./host/autostart.js";

export { discoverNsUri };

export interface LocateOptions extends ConnectOptions {
  /**
   * Where the nameserver is, `host:port`, or several in order of preference (a pair, a
   * cluster): the first that answers is used, nameservers on this host first. Default: the
   * PYRO_TS_NS environment variable (comma-separated for several), else located.
   */
  readonly ns?: string | readonly string[];
  /** Host to try first (then localhost, then broadcast). */
  readonly host?: string;
  /** Nameserver port. Default 9090. */
  readonly port?: number;
  /** Broadcast addresses to ask, or false to never broadcast. Default: PYRO_TS_BROADCAST (comma-separated), else 255.255.255.255. */
  readonly broadcast?: boolean | readonly string[];
  /** UDP port of the broadcast responders. Default 9091. */
  readonly bcport?: number;
  /** The nameserver's CURVE public key, when it encrypts and its address comes without one. */
  readonly nsKey?: string;
  /**
   * The transport of the nameservers at the addresses given or tried ("zmq", the default, or
   * "tcp"; else PYRO_TS_NS_TRANSPORT). A broadcast answer carries its own.
   */
  readonly nsTransport?: TransportKind;
  /** How long each attempt may take, in ms. Default 2000 (above the 1 s reconnect backoff). */
  readonly locateTimeout?: number;
  /**
   * When no nameserver answers, start one for this host, detached (it outlives this process),
   * at the first address of this host among those tried. Default: PYRO_TS_NS_AUTOSTART=1.
   */
  readonly autostart?: boolean | AutostartOptions;
}

function nsUri(host: string, port: number, options: Pick<LocateOptions, "nsTransport">): string {
  const transport = options.nsTransport ?? process.env.PYRO_TS_NS_TRANSPORT ?? "zmq";
  if (transport !== "zmq" && transport !== "tcp") throw new NamingError(`the nameserver transport must be zmq or tcp, got ${JSON.stringify(transport)}`);
  return formatUri({ protocol: "PYRO", object: NAMESERVER_NAME, location: { transport: "tcp", host, port }, ...(transport === "tcp" && { transport }) });
}

function broadcastAddresses(option: LocateOptions["broadcast"]): readonly string[] {
  if (option === false) return [];
  if (Array.isArray(option)) return option;
  const fromEnv = process.env.PYRO_TS_BROADCAST;
  return fromEnv ? fromEnv.split(",").map((a) => a.trim()).filter(Boolean) : ["255.255.255.255"];
}

/** The nameserver's URI with the configured key: its CURVE key (ZeroMQ), or its TLS fingerprint (TCP). */
function withNsKey(uri: PyroUri, nsKey: string): PyroUri {
  if (uri.transport !== "tcp") return { ...uri, key: nsKey };
  if (!FINGERPRINT_PATTERN.test(nsKey)) throw new SecurityError(`a nameserver on TCP is known by its TLS fingerprint (sha256:…), got ${JSON.stringify(nsKey)}`);
  return { ...uri, tls: nsKey };
}

async function attempt(uri: string, options: LocateOptions, timeout: number): Promise<Remote<NameServer> | undefined> {
  let proxy: Remote<NameServer>;
  try {
    // The configured key wins over whatever key an address (a broadcast answer) claims:
    // a forged answer then fails the handshake instead of impersonating the nameserver.
    const target = options.nsKey ? formatUri(withNsKey(parseUri(uri), options.nsKey)) : uri;
    proxy = await connectUri<NameServer>(target, { ...options, timeout });
  } catch (error) {
    // A nameserver that answers but refuses us is found: say why, do not look further.
    if (error instanceof SecurityError) throw error;
    return undefined;
  }
  proxy.$timeout = options.timeout ?? DEFAULT_TIMEOUT;
  return proxy;
}

/** Whether `host` is an address of this machine (loopback or one of its interfaces). */
export function isLocalHost(host: string): boolean {
  if (host === "localhost" || host.startsWith("127.") || host === "::1") return true;
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === host));
}

/**
 * The nameserver addresses given by `ns` (or PYRO_TS_NS), checked, without repeats, in order of
 * preference: those on this host first, then as given. Empty when none is given.
 */
export function nsAddresses(options: Pick<LocateOptions, "ns">): string[] {
  const given = options.ns ?? process.env.PYRO_TS_NS?.split(",").map((a) => a.trim()).filter(Boolean) ?? [];
  const list = typeof given === "string" ? [given] : [...given];
  const parsed = list.map((text) => ({ text, ...parseHostPort(text) }));
  const unique = [...new Map(parsed.map((a) => [`${a.host}:${a.port}`, a])).values()];
  return [...unique.filter((a) => isLocalHost(a.host)), ...unique.filter((a) => !isLocalHost(a.host))].map((a) => a.text);
}

/**
 * The first of `addresses` (in their order) whose nameserver answers. They are all asked at
 * once, so the whole search takes one attempt's time however many are dead.
 */
async function firstAnswering(addresses: readonly string[], options: LocateOptions, timeout: number): Promise<Remote<NameServer> | undefined> {
  const attempts = addresses.map((address) => {
    const { host, port } = parseHostPort(address);
    return attempt(nsUri(host, port, options), options, timeout);
  });
  let chosen: Remote<NameServer> | undefined;
  try {
    for (const pending of attempts) {
      chosen = await pending;
      if (chosen) return chosen;
    }
    return undefined;
  } finally {
    // Close the others once they settle; a SecurityError from one still reaches the caller.
    for (const pending of attempts) void pending.then((proxy) => (proxy && proxy !== chosen ? proxy.$close() : undefined), () => {});
  }
}

/**
 * Finds the nameserver and returns a proxy to it. With `ns` (or PYRO_TS_NS) only those
 * addresses are tried; otherwise the given host, then localhost, then a UDP broadcast. With
 * `autostart` (or PYRO_TS_NS_AUTOSTART=1), a nameserver is started on this host when none answers.
 */
export async function locateNs(options: LocateOptions = {}): Promise<Remote<NameServer>> {
  // Checked before any connection is opened, so a bad value cannot leave one behind.
  validCallTimeout(options.timeout ?? DEFAULT_TIMEOUT);
  const timeout = validTimeout(options.locateTimeout ?? 2000);
  const explicit = nsAddresses(options);
  const autostart = autostartSettings(options.autostart);
  const startHere = (settings: AutostartOptions, candidates: readonly { host: string; port: number }[]): Promise<Remote<NameServer>> =>
    autostartNameServer({ candidates, broadcast: options.broadcast, bcport: options.bcport, isLocal: isLocalHost, find: (host, port) => attempt(nsUri(host, port, options), options, timeout) }, settings);
  if (explicit.length > 0) {
    const proxy = await firstAnswering(explicit, options, timeout);
    if (proxy) return proxy;
    if (autostart) return startHere(autostart, explicit.map((address) => parseHostPort(address)));
    throw new NamingError(`no nameserver answers at ${explicit.join(", ")}`);
  }
  const port = options.port ?? DEFAULT_NS_PORT;
  const hosts = [...new Set([options.host, "127.0.0.1"].filter((h): h is string => !!h))];
  for (const host of hosts) {
    const proxy = await attempt(nsUri(host, port, options), options, timeout);
    if (proxy) return proxy;
  }
  const addresses = broadcastAddresses(options.broadcast);
  const found = await discoverNsUri(addresses, options.bcport ?? DEFAULT_BROADCAST_PORT, timeout * 1.4);
  const proxy = found ? await attempt(found, options, timeout) : undefined;
  if (proxy) return proxy;
  if (autostart) return startHere(autostart, hosts.map((host) => ({ host, port })));
  const tried = [...hosts.map((h) => `${h}:${port}`), ...(addresses.length ? [`broadcast to ${addresses.join(", ")} on UDP ${options.bcport ?? DEFAULT_BROADCAST_PORT}`] : [])];
  throw new NamingError(`no nameserver found (tried ${tried.join("; ")})`);
}
