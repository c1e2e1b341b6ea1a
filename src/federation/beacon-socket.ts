/**
 * The UDP driver of the beacon: binds the beacon port, sends beacons, and hands every
 * valid beacon of our cluster from another nameserver to a callback. Nothing a datagram
 * holds, nor any network error, can throw out of it or crash the process: it is counted.
 *
 * How Linux delivers broadcasts (checked on this kernel, 6.x, and what the design relies on):
 * - Several sockets bound to 0.0.0.0 on one port with SO_REUSEADDR all receive a datagram
 *   sent to 127.255.255.255 (or to an interface's broadcast address): nameservers on one
 *   host share the beacon port. Loopback needs nothing special: lo has no BROADCAST flag,
 *   but the kernel's local table has `broadcast 127.255.255.255 dev lo`.
 * - A socket bound to a unicast address (127.0.0.1, 192.0.2.2) receives NO broadcasts;
 *   one bound to the broadcast address (127.255.255.255) receives them. So a beacon socket
 *   on a specific host binds twice on the same port: the host (to send, so the source
 *   address is that host, and to hear unicast beacons) and its interface's broadcast address.
 * - A unicast datagram to a port several sockets share reaches only one of them (the last
 *   bound); only broadcasts reach all nameservers of a host.
 * - A socket bound to 0.0.0.0 hears its own broadcasts, once per broadcast address sent to
 *   (ours are ignored by id), and the same peer's beacon once per address the peer sent to.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { once } from "node:events";
import { isIPv4 } from "node:net";
import { ProtocolError } from "../errors.js";
import { decodeBeacon, encodeBeacon, isBeaconRejection, type Beacon } from "./beacon-frame.js";
import { broadcastAddresses } from "./broadcast-addresses.js";

/** What the beacon socket has seen and done; every datagram read is counted exactly once. */
export interface BeaconStats {
  /** Datagrams read: accepted plus the sum of ignored. */
  received: number;
  /** Beacons handed to `onBeacon`. */
  accepted: number;
  /** Datagrams dropped, by reason. */
  ignored: { oversized: number; foreign: number; version: number; malformed: number; otherCluster: number; own: number };
  /** Accepted beacons whose `onBeacon` threw (or rejected). */
  handlerErrors: number;
  /** Datagrams that could not be sent (no route, EACCES, unresolvable address). */
  sendErrors: number;
  /** 'error' events of the UDP sockets. */
  socketErrors: number;
}

/** How `BeaconSocket.open` binds, and what it delivers to whom. */
export interface BeaconSocketOptions {
  /** The beacon port, shared by every nameserver of the cluster; 0 picks a free one. */
  readonly port: number;
  /** IPv4 address to bind. Default 0.0.0.0: hear beacons on every interface. */
  readonly bindHost?: string;
  /** Only beacons of this cluster are delivered. */
  readonly cluster: string;
  /** Our nameserver id: our own beacons, looped back, are not delivered. */
  readonly ownId: string;
  /** Called for each valid beacon of our cluster from another nameserver, with its source address. */
  readonly onBeacon: (beacon: Beacon, fromAddress: string) => void;
}

async function bound(port: number, host: string): Promise<Socket> {
  // Shared port: several nameservers on one host must all get the broadcasts.
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => {
      socket.close();
      reject(error);
    };
    socket.once("error", failed);
    socket.bind(port, host, () => {
      socket.off("error", failed);
      resolve();
    });
  });
  socket.setBroadcast(true);
  return socket;
}

async function closed(socket: Socket): Promise<void> {
  const done = once(socket, "close");
  socket.close();
  await done;
}

function checkOptions(options: BeaconSocketOptions): void {
  const { port, bindHost, cluster, ownId } = options;
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`beacon port must be an integer 0..65535, got ${String(port)}`);
  if (bindHost !== undefined && !isIPv4(bindHost)) throw new RangeError(`beacon bindHost must be an IPv4 address, got ${JSON.stringify(bindHost)}`);
  try {
    // The encoder's checks: a cluster or id no beacon can carry would filter out everything.
    encodeBeacon({ cluster, id: ownId, port: 0, incarnation: 0, digest: 0 });
  } catch (error) {
    if (error instanceof ProtocolError) throw new RangeError(error.message, { cause: error });
    throw error;
  }
}

/** A UDP socket (two on a specific bind host) sending and receiving beacons. */
export class BeaconSocket {
  /** Counters, updated as datagrams arrive; read them, do not write them. */
  readonly stats: BeaconStats = {
    received: 0,
    accepted: 0,
    ignored: { oversized: 0, foreign: 0, version: 0, malformed: 0, otherCluster: 0, own: 0 },
    handlerErrors: 0,
    sendErrors: 0,
    socketErrors: 0,
  };
  readonly #sockets: readonly Socket[];
  readonly #port: number;
  readonly #cluster: string;
  readonly #ownId: string;
  readonly #onBeacon: BeaconSocketOptions["onBeacon"];
  #closing: Promise<void> | undefined;

  private constructor(sockets: readonly Socket[], options: BeaconSocketOptions) {
    this.#sockets = sockets;
    this.#port = sockets[0]!.address().port;
    this.#cluster = options.cluster;
    this.#ownId = options.ownId;
    this.#onBeacon = options.onBeacon;
    for (const socket of sockets) {
      // Every datagram, as it arrives: a reader that takes one per tick falls behind (pizco).
      socket.on("message", (datagram, remote) => this.#receive(datagram, remote));
      socket.on("error", () => {
        this.stats.socketErrors++;
      });
    }
  }

  /**
   * Binds the beacon port. On 0.0.0.0 (the default) one socket hears every interface; on a
   * specific address a second socket, bound to its interface's broadcast address, hears the
   * broadcasts (see the top of this file). Rejects with the bind error (EADDRINUSE when a
   * socket without SO_REUSEADDR holds the port) or a RangeError for invalid options.
   */
  static async open(options: BeaconSocketOptions): Promise<BeaconSocket> {
    checkOptions(options);
    const host = options.bindHost ?? "0.0.0.0";
    const main = await bound(options.port, host);
    const sockets = [main];
    try {
      if (host !== "0.0.0.0") {
        const port = main.address().port;
        // Not twice on one address (a /32 interface, or a broadcast address as bind host): each datagram would count twice.
        for (const address of broadcastAddresses(host)) if (address !== host) sockets.push(await bound(port, address));
      }
    } catch (error) {
      await Promise.all(sockets.map(closed));
      throw error;
    }
    return new BeaconSocket(sockets, options);
  }

  /** The bound beacon port (the one picked when 0 was asked). */
  get port(): number {
    return this.#port;
  }

  /**
   * Sends `beacon` to each address, on the beacon port. Throws ProtocolError if the beacon
   * is invalid (a bug of the caller); failures to send are counted in `sendErrors`, never
   * thrown. Does nothing once closed.
   */
  send(beacon: Beacon, addresses: readonly string[]): void {
    const frame = encodeBeacon(beacon);
    if (this.#closing) return;
    const socket = this.#sockets[0]!;
    for (const address of addresses) {
      try {
        socket.send(frame, this.#port, address, (error) => {
          if (error) this.stats.sendErrors++;
        });
      } catch {
        // An argument node refuses at once (not a string): as unsendable as an unreachable host.
        this.stats.sendErrors++;
      }
    }
  }

  /** Closes the socket(s); no beacon is delivered afterwards. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#sockets.map(closed)).then(() => undefined);
    return this.#closing;
  }

  #receive(datagram: Buffer, remote: RemoteInfo): void {
    if (this.#closing) return;
    const stats = this.stats;
    stats.received++;
    const beacon = decodeBeacon(datagram);
    if (isBeaconRejection(beacon)) {
      stats.ignored[beacon.rejected]++;
    } else if (beacon.cluster !== this.#cluster) {
      stats.ignored.otherCluster++;
    } else if (beacon.id === this.#ownId) {
      stats.ignored.own++;
    } else {
      stats.accepted++;
      this.#deliver(beacon, remote.address);
    }
  }

  #deliver(beacon: Beacon, from: string): void {
    try {
      const result: unknown = this.#onBeacon(beacon, from);
      // An async handler's rejection would otherwise be unhandled, and end the process.
      if (result instanceof Promise) {
        result.catch(() => {
          this.stats.handlerErrors++;
        });
      }
    } catch {
      this.stats.handlerErrors++;
    }
  }
}
