import { hostname, networkInterfaces } from "node:os";
import { DaemonError } from "../errors.js";
import type { Location } from "../uri.js";

/** Where a socket is bound, read from its ZeroMQ endpoint. */
export function locationOf(endpoint: string): Location {
  if (endpoint.startsWith("ipc://")) return { transport: "ipc", path: endpoint.slice("ipc://".length) };
  const match = /^tcp:\/\/(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint);
  if (!match) throw new DaemonError(`cannot read the bound address from ${endpoint}`);
  return { transport: "tcp", host: match[1] ?? match[2]!, port: Number(match[3]) };
}

/** The location to put in URIs: never an unspecified address, which nobody can connect to. */
export function advertised(bound: Location, host: string | undefined): Location {
  if (bound.transport !== "tcp") return bound;
  if (host) return { ...bound, host };
  if (bound.host !== "0.0.0.0" && bound.host !== "::") return bound;
  const family = bound.host === "::" ? ["IPv6", "IPv4"] : ["IPv4"];
  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && !address.internal && family.includes(address.family));
  return { ...bound, host: external?.address ?? hostname() };
}
