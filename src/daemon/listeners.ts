import { encodeBatch } from "../protocol/frames.js";
import { CombinedServer } from "../transport/combined-server.js";
import { AuthorizedKeys, readSecretKeyFile } from "../transport/curve.js";
import type { ResolvedTransportOptions } from "../transport/options.js";
import { listen, type ServerSecurity } from "../transport/open-transport.js";
import { TRANSPORT_KINDS, type ServerTransport, type TransportKind } from "../transport/transport.js";
import { readTlsIdentity } from "../transport/tls/tls-identity.js";
import { endpointOf, formatUri, type Location } from "../uri.js";
import { advertised, locationOf } from "./bound-location.js";
import { DaemonError } from "../errors.js";

/** Where and how a daemon listens: the part of DaemonOptions about its sockets. */
export interface ListenOptions {
  /**
   * Host or address other machines use to reach this daemon, put in its URIs (Pyro's
   * nathost). Default: the bound host, or for 0.0.0.0/:: this machine's first external address.
   */
  readonly advertisedHost?: string;
  /**
   * "zmq" (the default: CURVE, interop with ZeroMQ software) or "tcp" (a direct TCP
   * connection, lower latency). Its URIs say which, so clients pick the same. A TCP daemon
   * reports a taken port at start() rather than here, and on port 0 knows its port (and URIs)
   * once started.
   */
  readonly transport?: TransportKind;
  /**
   * Also listen over the other transport, on this port of the same host (0, the default: a
   * free one), so clients of both kinds are served together. URIs name the primary
   * transport; `uriFor(id, "tcp")` gives one over the other.
   */
  readonly also?: { readonly transport: TransportKind; readonly port?: number };
  /** Host or IP to bind (TCP). Default 127.0.0.1. */
  readonly host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Unix socket path: bind IPC instead of TCP. */
  readonly ipc?: string;
  /**
   * CURVE encryption and client authentication: the daemon's key file (`pyro-ts keygen`),
   * and a folder of client `.pub` files it admits (re-read when it changes). Without
   * `authorizedClients` any client that knows the daemon's public key may connect.
   */
  readonly curve?: { readonly secretKeyFile: string; readonly authorizedClients?: string };
  /**
   * TLS for the TCP transport, in the same model: the daemon's key file (`pyro-ts keygen`
   * puts a TLS identity in it) and a folder of client `.pub` files whose fingerprints it admits.
   * Its TCP URIs carry its fingerprint (`tls=`), which clients pin.
   */
  readonly tls?: { readonly secretKeyFile: string; readonly authorizedClients?: string };
}

function checkKind(kind: unknown, option: string): TransportKind {
  if (!TRANSPORT_KINDS.includes(kind as TransportKind)) throw new RangeError(`${option} must be "zmq" or "tcp", got ${String(kind)}`);
  return kind as TransportKind;
}

/**
 * A daemon's listening sockets, one per transport (the primary, and `also` another), bound
 * when made, and the URIs that reach each: the key of a CURVE daemon, the TCP transport's marker.
 */
export class Listeners {
  readonly server: ServerTransport;
  /** The daemon's CURVE public key, carried by its ZeroMQ URIs. */
  readonly publicKey: string | undefined;
  /** The daemon's TLS fingerprint, carried by its TCP URIs. */
  readonly fingerprint: string | undefined;
  readonly #kinds: readonly TransportKind[];
  readonly #endpoints: () => readonly string[];
  readonly #advertisedHost: string | undefined;
  readonly #locations = new Map<TransportKind, Location>();

  constructor(options: ListenOptions, transport: ResolvedTransportOptions) {
    const primary = checkKind(options.transport ?? "zmq", "transport");
    const host = options.host ?? "127.0.0.1";
    const endpoint = options.ipc !== undefined ? endpointOf({ transport: "ipc", path: options.ipc }) : endpointOf({ transport: "tcp", host, port: options.port ?? 0 });
    const curve = options.curve && {
      keys: readSecretKeyFile(options.curve.secretKeyFile),
      ...(options.curve.authorizedClients !== undefined && { authorized: new AuthorizedKeys(options.curve.authorizedClients) }),
    };
    const tls = options.tls && {
      identity: readTlsIdentity(options.tls.secretKeyFile),
      ...(options.tls.authorizedClients !== undefined && { authorized: new AuthorizedKeys(options.tls.authorizedClients) }),
    };
    this.publicKey = curve?.keys.publicKey;
    this.fingerprint = tls?.identity.fingerprint;
    this.#advertisedHost = options.advertisedHost;
    const kinds = [primary, ...(options.also ? [checkKind(options.also.transport, "also.transport")] : [])];
    if (curve && !kinds.includes("zmq")) throw new TypeError("curve is for the ZeroMQ transport: use tls with transport \"tcp\"");
    if (tls && !kinds.includes("tcp")) throw new TypeError("tls is for the TCP transport: use curve with ZeroMQ");
    const security = (kind: TransportKind): ServerSecurity => (kind === "zmq" ? { curve } : { tls });
    const first = listen(primary, endpoint, transport, encodeBatch, security(primary));
    if (!options.also) {
      this.#kinds = [primary];
      this.server = first;
      this.#endpoints = () => [first.endpoint];
      return;
    }
    const second = kinds[1]!;
    if (second === primary) throw new RangeError(`also.transport must differ from transport (${primary})`);
    let other: ServerTransport;
    try {
      other = listen(second, endpointOf({ transport: "tcp", host, port: options.also.port ?? 0 }), transport, encodeBatch, security(second));
    } catch (error) {
      void first.close();
      throw error;
    }
    const combined = new CombinedServer([first, other]);
    this.#kinds = [primary, second];
    this.server = combined;
    this.#endpoints = () => [combined.endpointOf(0), combined.endpointOf(1)];
  }

  /** The transports listened on, the primary first. */
  get transports(): readonly TransportKind[] {
    return this.#kinds;
  }

  /** Where clients reach the daemon over `kind` (a TCP listener on port 0 knows it once ready). */
  location(kind: TransportKind = this.#kinds[0]!): Location {
    let location = this.#locations.get(kind);
    if (!location) {
      const index = this.#kinds.indexOf(kind);
      if (index < 0) throw new DaemonError(`this daemon does not listen over ${kind} (it does over ${this.#kinds.join(" and ")})`);
      location = advertised(locationOf(this.#endpoints()[index]!), this.#advertisedHost);
      this.#locations.set(kind, location);
    }
    return location;
  }

  /** The URI of object `id` over `kind` (default: the primary transport). */
  uri(id: string, kind: TransportKind = this.#kinds[0]!): string {
    const security = kind === "zmq" ? this.publicKey && { key: this.publicKey } : { transport: "tcp" as const, ...(this.fingerprint && { tls: this.fingerprint }) };
    return formatUri({ protocol: "PYRO", object: id, location: this.location(kind), ...security });
  }
}
