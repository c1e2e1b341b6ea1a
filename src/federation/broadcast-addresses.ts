/**
 * Where to broadcast beacons so that every nameserver a bind host can reach hears them.
 */
import { isIPv4 } from "node:net";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

/** The broadcast address of the loopback network (127.0.0.0/8). */
export const LOOPBACK_BROADCAST = "127.255.255.255";

function toUint32(address: string): number {
  return address.split(".").reduce((value, part) => value * 256 + Number(part), 0);
}

function fromUint32(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join(".");
}

/** Whether `address` is an IPv4 loopback address (127.0.0.0/8). */
export function isLoopback(address: string): boolean {
  return isIPv4(address) && address.startsWith("127.");
}

/** The broadcast address of the IPv4 network `address`/`netmask`: address | ~netmask. */
export function broadcastOf(address: string, netmask: string): string {
  if (!isIPv4(address) || !isIPv4(netmask)) throw new RangeError(`not an IPv4 address and netmask: ${address}/${netmask}`);
  return fromUint32((toUint32(address) | ~toUint32(netmask)) >>> 0);
}

/**
 * The broadcast addresses beacons from a socket bound to `bindHost` should go to:
 * - a loopback address: the loopback broadcast, 127.255.255.255;
 * - another IPv4 address: the broadcast address of the interface holding it, or none when
 *   no interface holds it (only static peers are reachable then);
 * - 0.0.0.0: every non-internal IPv4 interface's broadcast address, plus the loopback
 *   broadcast so nameservers on this host hear each other too.
 *
 * Throws RangeError for a host that is not an IPv4 address: beacons are IPv4 only.
 */
export function broadcastAddresses(bindHost: string): string[] {
  if (!isIPv4(bindHost)) throw new RangeError(`beacons need an IPv4 bind host, not ${JSON.stringify(bindHost)}`);
  if (isLoopback(bindHost)) return [LOOPBACK_BROADCAST];
  const ipv4 = Object.values(networkInterfaces())
    .flat()
    .filter((info): info is NetworkInterfaceInfo => info !== undefined && info.family === "IPv4");
  if (bindHost === "0.0.0.0") {
    const external = ipv4.filter((info) => !info.internal).map((info) => broadcastOf(info.address, info.netmask));
    return [...new Set([...external, LOOPBACK_BROADCAST])];
  }
  const holder = ipv4.find((info) => info.address === bindHost);
  return holder ? [broadcastOf(holder.address, holder.netmask)] : [];
}
