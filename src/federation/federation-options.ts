import { isZ85Key } from "../transport/curve.js";
import { DEFAULT_BEACON_PORT, isClusterName } from "./beacon-frame.js";
import type { MembershipTiming } from "./membership-timing.js";
import { validEndpoint } from "./peer-message.js";
import type { PeerAddress } from "./peer-links.js";

/** How a nameserver federates with the others of its cluster. Off unless a cluster is named. */
export interface FederationOptions {
  /** Cluster name: only nameservers with the same one join, so unrelated ones on a LAN never merge. */
  readonly cluster: string;
  /** UDP port of the beacons, the same on every nameserver of the cluster. Default 9999 (pizco's). */
  readonly beaconPort?: number;
  /** Seconds between beacons while alone or leading (default 1); other members beacon 10 times more slowly. */
  readonly beaconInterval?: number;
  /** Nameservers no broadcast reaches, `host:port` (`host:port?key=<z85>` for an encrypted one). */
  readonly peers?: readonly string[];
  /**
   * The other nameserver of an active/standby pair, `host:port` as it advertises itself (its
   * row in `ns peers`), linked like a static peer. Changes made here return once the partner
   * holds them; when it dies or leaves, its names are taken over here until it is back.
   */
  readonly pair?: string;
  /** Where to send beacons. Default: the broadcast address of the nameserver's interface (all of them for 0.0.0.0). */
  readonly broadcast?: readonly string[];
  /** The membership protocol's timers in ms, for tuning. */
  readonly timing?: Partial<MembershipTiming>;
}

/** Reads a static peer, `host:port` or `host:port?key=<z85 public key>`. */
export function parseStaticPeer(peer: string): PeerAddress {
  const match = /^([^?]+)(?:\?key=(.*))?$/.exec(peer);
  if (!match || !validEndpoint(match[1])) throw new RangeError(`peer ${JSON.stringify(peer)} is not host:port`);
  if (match[2] !== undefined && !isZ85Key(match[2])) throw new RangeError(`peer ${JSON.stringify(peer)} has a key that is not a Z85 public key`);
  return { endpoint: match[1]!, ...(match[2] !== undefined && { key: match[2] }) };
}

/** Checks federation options; throws RangeError naming the first bad one. */
export function checkFederationOptions(options: FederationOptions): void {
  if (!isClusterName(options.cluster)) throw new RangeError(`cluster name must be 1 to 64 bytes without control characters, got ${JSON.stringify(options.cluster)}`);
  const port = options.beaconPort ?? DEFAULT_BEACON_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`beacon port must be an integer from 0 to 65535, got ${String(port)}`);
  const interval = options.beaconInterval ?? 1;
  if (typeof interval !== "number" || !(interval >= 0.05 && interval <= 3600)) throw new RangeError(`beacon interval must be from 0.05 to 3600 seconds, got ${String(interval)}`);
  for (const peer of options.peers ?? []) parseStaticPeer(peer);
  if (options.pair !== undefined && (typeof options.pair !== "string" || !validEndpoint(options.pair.replace(/\?key=.*$/, "")))) throw new RangeError(`pair must be the partner's host:port, got ${JSON.stringify(options.pair)}`);
  if (options.pair !== undefined) parseStaticPeer(options.pair);
}
