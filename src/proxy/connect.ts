import { NamingError } from "../errors.js";
import type { ClientCurve } from "../transport/client-socket.js";
import { checkZ85Key, generateKeyPair, readSecretKeyFile, type CurveKeyPair } from "../transport/curve.js";
import { resolveTransportOptions, type TransportOptions } from "../transport/options.js";
import { endpointOf, formatUri, toUri, type PyroUri } from "../uri.js";
import { acquireChannel, releaseChannel } from "./channel-pool.js";
import { createProxy, fetchMetadata, validTimeout } from "./proxy.js";
import type { Remote } from "./remote.js";

export interface ConnectOptions extends TransportOptions {
  /** Timeout of each call in ms (changeable later with `proxy.$timeout`). Default 30000. */
  readonly timeout?: number;
  /**
   * CURVE: this client's key file (else a fresh key pair, fine for daemons that admit any
   * client), and the daemon's public key when the URI does not carry it (`?key=`).
   */
  readonly curve?: { readonly secretKeyFile?: string; readonly serverKey?: string };
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

/**
 * Connects to a remote object and returns its typed proxy. The object's metadata is
 * fetched first, so a wrong object id fails here, and unknown members fail locally.
 * Proxies to the same daemon share one connection; close each with `$close()`.
 */
export async function connect<T>(uri: string | PyroUri, options: ConnectOptions = {}): Promise<Remote<T>> {
  const parsed = toUri(uri);
  if (parsed.protocol !== "PYRO" || !parsed.location) {
    throw new NamingError(`connect() needs a PYRO: URI with a location; ${formatUri(parsed)} must be resolved through a nameserver`);
  }
  const timeout = validTimeout(options.timeout ?? DEFAULT_TIMEOUT);
  const channel = acquireChannel(endpointOf(parsed.location), resolveTransportOptions(options), clientCurve(parsed, options));
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await releaseChannel(channel);
  };
  try {
    const metadata = await fetchMetadata(channel, parsed.object, timeout);
    return createProxy<T>({ uri: formatUri(parsed), objectId: parsed.object, channel, metadata, timeout, release });
  } catch (error) {
    await release();
    throw error;
  }
}
