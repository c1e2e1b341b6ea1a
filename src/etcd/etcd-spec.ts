import { NamingError } from "../errors.js";
import { parseHostPort } from "../names.js";

/** Where a shared namespace lives: etcd endpoints and the key prefix its nameservers share. */
export interface EtcdSpec {
  /** `host:port` of each etcd member (IPv6 hosts in brackets). */
  readonly endpoints: string[];
  /** Normalised key prefix: a leading `/`, no trailing `/` (`/labs/physics`). */
  readonly prefix: string;
}

/** The prefix of `etcd://host:port` given without a path. */
export const DEFAULT_ETCD_PREFIX = "/pyro-ts";
const DEFAULT_ETCD_PORT = 2379;
/** Path segments of a prefix: plain characters only, so a prefix is never a pattern or a traversal. */
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Parses `etcd://host:port[,host:port...][/prefix]`, e.g.
 * `etcd://127.0.0.1:2379,127.0.0.2:2379/labs/physics`; the port defaults to 2379, the
 * prefix to `/pyro-ts`. Throws NamingError saying what is wrong.
 */
export function parseEtcdSpec(spec: string): EtcdSpec {
  const usage = "expected etcd://host:port[,host:port...]/prefix";
  const match = /^etcd:\/\/([^/]*)(\/.*)?$/.exec(spec.trim());
  if (!match) throw new NamingError(`invalid etcd storage ${JSON.stringify(spec)}: ${usage}`);
  const hosts = match[1]!;
  if (hosts === "") throw new NamingError(`etcd storage ${JSON.stringify(spec)} names no endpoint: ${usage}`);
  const endpoints = hosts.split(",").map((text) => {
    let parsed: { host: string; port: number };
    try {
      parsed = parseHostPort(text, DEFAULT_ETCD_PORT);
    } catch {
      throw new NamingError(`invalid etcd endpoint ${JSON.stringify(text)} in ${JSON.stringify(spec)}: ${usage}`);
    }
    return parsed.host.includes(":") ? `[${parsed.host}]:${parsed.port}` : `${parsed.host}:${parsed.port}`;
  });
  return { endpoints: [...new Set(endpoints)], prefix: normalizePrefix(match[2] ?? "", spec) };
}

/** `labs/physics/`, `/labs/physics` → `/labs/physics`; empty → the default prefix. Throws NamingError. */
export function normalizePrefix(prefix: string, context = prefix): string {
  const segments = prefix.split("/").filter((segment) => segment !== "");
  if (segments.length === 0) return DEFAULT_ETCD_PREFIX;
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || segment === "." || segment === "..") {
      throw new NamingError(`invalid etcd prefix in ${JSON.stringify(context)}: segment ${JSON.stringify(segment)} may hold only letters, digits, '.', '_' and '-'`);
    }
  }
  return `/${segments.join("/")}`;
}

/** etcd's minimum lease TTL, and a generous maximum. */
const TTL_RANGE = [2, 3600] as const;

/**
 * Parses `etcd://host:port[,host:port...][/prefix][?ttl=seconds]` (a nameserver's storage or
 * global spec): the spec, and the lease TTL it asks for (undefined: the caller's default).
 */
export function parseEtcdSpecWithTtl(spec: string): EtcdSpec & { readonly leaseTtl?: number } {
  const mark = spec.indexOf("?");
  const parsed = parseEtcdSpec(mark < 0 ? spec : spec.slice(0, mark));
  if (mark < 0) return parsed;
  const match = /^ttl=(\d{1,5})$/.exec(spec.slice(mark + 1));
  const ttl = match ? Number(match[1]) : NaN;
  if (!(ttl >= TTL_RANGE[0] && ttl <= TTL_RANGE[1])) {
    throw new NamingError(`invalid etcd spec ${JSON.stringify(spec)}: the only option is ?ttl=<seconds>, from ${TTL_RANGE[0]} to ${TTL_RANGE[1]}`);
  }
  return { ...parsed, leaseTtl: ttl };
}
