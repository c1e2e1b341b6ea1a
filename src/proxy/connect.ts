import { NamingError } from "../errors.js";
import { resolveTransportOptions, type TransportOptions } from "../transport/options.js";
import { endpointOf, formatUri, toUri, type PyroUri } from "../uri.js";
import { acquireChannel, releaseChannel } from "./channel-pool.js";
import { createProxy, fetchMetadata, validTimeout } from "./proxy.js";
import type { Remote } from "./remote.js";

export interface ConnectOptions extends TransportOptions {
  /** Timeout of each call in ms (changeable later with `proxy.$timeout`). Default 30000. */
  readonly timeout?: number;
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
  const channel = acquireChannel(endpointOf(parsed.location), resolveTransportOptions(options));
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
