import type { ListenOptions, NetConnectOpts } from "node:net";
import { DaemonError } from "../../errors.js";

/** Where a TCP transport listens or connects: `tcp://host:port` (IPv6 in brackets) or `ipc:///path` (a Unix socket). */
export type TcpEndpoint = { readonly host: string; readonly port: number } | { readonly path: string };

export function parseTcpEndpoint(endpoint: string): TcpEndpoint {
  if (endpoint.startsWith("ipc://")) return { path: endpoint.slice("ipc://".length) };
  const match = /^tcp:\/\/(?:\[([^\]]+)\]|([^:/]+)):(\d+)$/.exec(endpoint);
  if (!match) throw new DaemonError(`not a TCP or IPC endpoint: ${endpoint}`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}

export function formatTcpEndpoint(endpoint: TcpEndpoint): string {
  if ("path" in endpoint) return `ipc://${endpoint.path}`;
  return `tcp://${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

export function listenOptions(endpoint: TcpEndpoint): ListenOptions {
  return "path" in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port, exclusive: true };
}

export function connectOptions(endpoint: TcpEndpoint): NetConnectOpts {
  return "path" in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
}
