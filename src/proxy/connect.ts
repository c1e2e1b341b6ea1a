import { NamingError } from "../errors.js";
import type { ClientCurve } from "../transport/client-socket.js";
import { checkZ85Key, generateKeyPair, readSecretKeyFile, type CurveKeyPair } from "../transport/curve.js";
import { resolveTransportOptions, type TransportOptions } from "../transport/options.js";
import type { ClientSecurity } from "../transport/open-transport.js";
import { readTlsIdentity } from "../transport/tls/tls-identity.js";
import { endpointOf, formatUri, toUri, type PyroUri } from "../uri.js";
import { acquireChannel, releaseChannel } from "./channel-pool.js";
import { createProxy, fetchMetadata, validCallTimeout } from "./proxy.js";
import type { Opened } from "./relocation.js";
import type { Remote } from "./remote.js";

export interface ConnectOptions extends TransportOptions {
  /**
   * Timeout of each call in ms (changeable later with `proxy.$timeout`); 0 or Infinity: none,
   * as Pyro's default (ours is 30000, so a call to a stuck daemon still ends).
   */
  readonly timeout?: number;
  /**
   * CURVE: this client's key file (else a fresh key pair, fine for daemons that admit any
   * client), and the daemon's public key when the URI does not carry it (`?key=`).
   */
  readonly curve?: { readonly secretKeyFile?: string; readonly serverKey?: string };
  /**
   * TLS, for daemons on the TCP transport: this client's key file (`pyro-ts keygen`; needed
   * when the daemon admits only some clients), and the daemon's fingerprint when the URI does
   * not carry it (`tls=`).
   */
  readonly tls?: { readonly secretKeyFile?: string; readonly fingerprint?: string };
}

/** How a connection is secured: CURVE for ZeroMQ, TLS for TCP, as the URI (or the options) say. */
function clientSecurity(uri: PyroUri, options: ConnectOptions): ClientSecurity {
  if (uri.transport !== "tcp") return { curve: clientCurve(uri, options) };
  const fingerprint = uri.tls ?? options.tls?.fingerprint;
  if (!fingerprint) return {};
  return { tls: { fingerprint, ...(options.tls?.secretKeyFile && { identity: readTlsIdentity(options.tls.secretKeyFile) }) } };
}

/** The CURVE settings of a connection, or undefined for a plain one. */
function clientCurve(uri: PyroUri, options: ConnectOptions): ClientCurve | undefined {
  const serverKey = uri.key ?? options.curve?.serverKey;
  // A daemon without a key speaks plain ZeroMQ; a client key file is for those that encrypt.
  if (!serverKey) return undefined;
  return {
    serverKey: checkZ85Key(serverKey, "the server key"),
    keys: options.curve?.secretKeyFile ? readSecretKeyFile(options.curve.secretKeyFile) : ephemeralKeys(),
  };
}

let ephemeral: CurveKeyPair | undefined;
/** One key pair per process for clients without a key file, so their proxies can share connections. */
function ephemeralKeys(): CurveKeyPair {
  return (ephemeral ??= generateKeyPair());
}

export const DEFAULT_TIMEOUT = 30_000;

/** A PYRO URI with a location, parsed, or a NamingError saying it needs a nameserver first. */
function pyroUri(uri: string | PyroUri): PyroUri {
  const parsed = toUri(uri);
  if (parsed.protocol !== "PYRO" || !parsed.location) {
    throw new NamingError(`connect() needs a PYRO: URI with a location; ${formatUri(parsed)} must be resolved through a nameserver`);
  }
  return parsed;
}

/** Acquires the channel to the object's daemon and fetches its metadata there; gives the channel back on failure. */
async function open(parsed: PyroUri, options: ConnectOptions, timeout: number): Promise<Opened> {
  const channel = acquireChannel(endpointOf(parsed.location!), resolveTransportOptions(options), clientSecurity(parsed, options), parsed.transport ?? "zmq");
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await releaseChannel(channel);
  };
  try {
    const metadata = await fetchMetadata(channel, parsed.object, timeout);
    return { connection: { uri: formatUri(parsed), objectId: parsed.object, channel, release }, metadata };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Connects to a remote object and returns its typed proxy. The object's metadata is
 * fetched first, so a wrong object id fails here, and unknown members fail locally.
 * Proxies to the same daemon share one connection; close each with `$close()`.
 *
 * With `relocate` (given by the naming layer for PYRONAME URIs), the proxy asks it for the
 * object's current PYRO URI when its connection is lost, and moves there if it changed.
 */
export async function connect<T>(uri: string | PyroUri, options: ConnectOptions = {}, relocate?: () => Promise<string>): Promise<Remote<T>> {
  const parsed = pyroUri(uri);
  const timeout = validCallTimeout(options.timeout ?? DEFAULT_TIMEOUT);
  const { connection, metadata } = await open(parsed, options, timeout);
  const relocator = relocate && { relocate, open: async (to: string, timeoutMs: number) => open(pyroUri(to), options, timeoutMs) };
  return createProxy<T>({ connection, metadata, timeout, relocator });
}
