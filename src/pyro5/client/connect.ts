/**
 * Proxies to objects of Pyro5 daemons (Python Pyro5, PyroLab, or a pyro-ts daemon's Pyro5
 * port). A `PYRO:` URI does not say which protocol is behind it: one that came from a Pyro5
 * nameserver, or that the caller passes to these functions, is Pyro5.
 */
import { NamingError } from "../../errors.js";
import { DEFAULT_TIMEOUT } from "../../proxy/connect.js";
import { validCallTimeout, validTimeout } from "../../proxy/proxy.js";
import { parseUri } from "../../uri.js";
import type { Pyro5ProxyState } from "../wire/class-dicts.js";
import { serializerByName } from "../wire/serializer.js";
import { Pyro5Pool } from "./connection-pool.js";
import { checkMetadata, type Pyro5Metadata } from "./pyro5-metadata.js";
import { createPyro5Proxy, PYRO5_DAEMON_ID } from "./pyro5-proxy.js";
import type { Pyro5Remote } from "./pyro5-remote.js";
import { revive } from "./revive.js";

export interface Pyro5ConnectOptions {
  /** Timeout of each call in ms (0 or Infinity: none). Default 30000. */
  readonly timeout?: number;
  /** How long connecting and the handshake may take, in ms. Default 5000. */
  readonly connectTimeout?: number;
  /**
   * What values travel as: "json" (default; fastest here, no bytes) or "serpent" (Python's
   * own default: bytes and sets cross too). A Python daemon answers in either.
   */
  readonly serializer?: "json" | "serpent";
  /** Connections, so calls in flight, at most per proxy (Pyro5 serves one call per connection). Default 4. */
  readonly maxConnections?: number;
  /** Largest message accepted from the daemon, in bytes. Default 64 MiB. */
  readonly maxMessageSize?: number;
  /** What the daemon's validateHandshake() gets. Default "hello". */
  readonly handshake?: unknown;
}

const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

interface Resolved {
  readonly options: Pyro5ConnectOptions;
  readonly pool: Pyro5Pool;
  readonly uri: string;
  readonly objectId: string;
}

function open(uri: string, options: Pyro5ConnectOptions): Resolved {
  const parsed = parseUri(uri);
  if (parsed.protocol !== "PYRO" || !parsed.location) {
    throw new NamingError(`${uri} is not a PYRO: URI: look a name up with pyro5.lookup(name, { ns }) first`);
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new RangeError(`maxConnections must be a positive integer, got ${String(maxConnections)}`);
  const pool = new Pyro5Pool(parsed.location, parsed.object, {
    serializer: serializerByName(options.serializer ?? "json"),
    maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    connectTimeout: validTimeout(options.connectTimeout ?? 5000),
    handshake: options.handshake,
    maxConnections,
  });
  return { options, pool, uri, objectId: parsed.object };
}

/**
 * A proxy its program lets go of without `$close()` closes its connections once the garbage
 * collector has taken it and its streams (as Python's proxy does when deleted): a daemon given a
 * callback proxy per call must not keep a connection per call. Registered: the proxy's state,
 * which its streams hold too.
 */
const uncollected = new FinalizationRegistry<Pyro5Pool>((pool) => pool.close());

/** A proxy on `pool`; `ownsPool`: the pool is this proxy's alone, closed with it. */
function proxyOf<T>({ options, pool, uri, objectId }: Resolved, metadata: Pyro5Metadata, ownsPool = true): Pyro5Remote<T> {
  const state = {
    pool,
    uri,
    objectId,
    serializer: serializerByName(options.serializer ?? "json"),
    metadata,
    timeout: validCallTimeout(options.timeout ?? DEFAULT_TIMEOUT),
    revive: reviver(options),
  };
  if (ownsPool) uncollected.register(state, pool);
  return createPyro5Proxy<T>(state);
}

/** Connects to a Pyro5 object: the handshake fetches its metadata, so unknown members fail locally. */
export async function connect<T>(uri: string, options: Pyro5ConnectOptions = {}): Promise<Pyro5Remote<T>> {
  const resolved = open(uri, options);
  try {
    const metadata = (await resolved.pool.start()) ?? (await fetchMetadata(resolved));
    return proxyOf<T>(resolved, metadata);
  } catch (error) {
    resolved.pool.close();
    throw error;
  }
}

/** A daemon that sent no metadata in its handshake: ask its daemon object, as Pyro5's proxy does. */
async function fetchMetadata(resolved: Resolved): Promise<Pyro5Metadata> {
  const daemon = proxyOf<Pyro5DaemonObject>({ ...resolved, objectId: PYRO5_DAEMON_ID }, { methods: ["get_metadata"], oneway: [], attrs: [] }, false);
  const meta: unknown = await daemon.get_metadata(resolved.objectId);
  return checkMetadata(meta, resolved.uri);
}

/** The daemon object of the daemon serving `uri` (ping, registered, info, get_metadata). */
export async function connectDaemon(uri: string, options: Pyro5ConnectOptions = {}): Promise<Pyro5Remote<Pyro5DaemonObject>> {
  const parsed = parseUri(uri);
  if (!parsed.location) throw new NamingError(`${uri} has no location`);
  const where = parsed.location.transport === "ipc" ? `./u:${parsed.location.path}` : `${parsed.location.host.includes(":") ? `[${parsed.location.host}]` : parsed.location.host}:${parsed.location.port}`;
  return connect<Pyro5DaemonObject>(`PYRO:${PYRO5_DAEMON_ID}@${where}`, options);
}

/** The methods of a Pyro5 daemon's own object, `Pyro.Daemon`. */
export interface Pyro5DaemonObject {
  ping(): null;
  info(): string;
  registered(): string[];
  get_metadata(objectId: string): Pyro5Metadata;
}

/**
 * What values from a Python peer become: URI dicts URI strings, proxy dicts proxies made with
 * `options` (connecting on their first call, so `$close()` them); see revive.ts.
 */
export function reviver(options: Pyro5ConnectOptions): (value: unknown) => unknown {
  const proxyFromState = (proxy: Pyro5ProxyState): unknown => proxyOf(open(proxy.uri, options), { methods: proxy.methods, oneway: proxy.oneway, attrs: proxy.attrs });
  return (value) => revive(value, proxyFromState);
}
