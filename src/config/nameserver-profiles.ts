import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { MAX_AUTOCLEAN_SECONDS } from "../naming/autoclean.js";
import { DEFAULT_BEACON_PORT, isClusterName } from "../federation/beacon-frame.js";
import { parseStaticPeer } from "../federation/federation-options.js";
import { ConfigError } from "./config-error.js";
import { nearest } from "./nearest.js";
import { isMap, isScalar, isSeq, YamlSource, type Node, type Pair } from "./yaml-source.js";
import { defaultDataDirectory } from "../naming/data-directory.js";
import { DEFAULT_ETCD_PREFIX, normalizePrefix } from "../etcd/etcd-spec.js";
import { checkGlobalCluster, parseGlobalSpec } from "../global/global-spec.js";

/** How to run one nameserver. */
export interface NameServerProfile {
  readonly host: string;
  readonly port: number;
  readonly bchost: string;
  readonly bcport: number;
  readonly broadcast: boolean;
  /** Seconds between autoclean sweeps, 0 = off. */
  readonly autoclean: number;
  /** `memory`, `file:<path>`, `sqlite:<path>` or `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`. */
  readonly storage: string;
  /** CURVE key file of the nameserver, and the folder of client keys it admits. */
  readonly curveSecretKeyFile?: string;
  readonly curveAuthorizedClients?: string;
  /** Cluster name to federate with (off when absent), its beacon port and interval (seconds), static peers. */
  readonly federation?: string;
  readonly beaconPort: number;
  readonly beaconInterval: number;
  readonly peers: readonly string[];
  /** The other nameserver of an active/standby pair, `host:port`. */
  readonly pair?: string;
  /** Global discovery: `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`, bridged by the cluster's leader (needs federation). */
  readonly global?: string;
}

/** The built-in profile, so `-l default` works without any file. */
export const DEFAULT_PROFILE: NameServerProfile = {
  host: "127.0.0.1",
  port: 9090,
  bchost: "0.0.0.0",
  bcport: 9091,
  broadcast: true,
  autoclean: 0,
  storage: "memory",
  beaconPort: DEFAULT_BEACON_PORT,
  beaconInterval: 1,
  peers: [],
};

/** PyroLab's top-level keys; only `nameservers` is read by pyro-ts so far. */
const SECTIONS = ["nameservers", "daemons", "services", "autolaunch", "version"] as const;

type Kind = "string" | "port" | "seconds" | "boolean" | "storageType" | "optionalString" | "cluster" | "interval" | "peers" | "peer" | "etcdPrefix" | "etcdTtl" | "global";

/**
 * PyroLab's nameserver keys, as its versions spell them (`storage_file` or
 * `storage_filename`; `storage_type`, or `storage` naming a type), plus `storage` as
 * pyro-ts's own spec (`memory | file:<path> | sqlite:<path>`).
 */
const KEYS: Readonly<Record<string, Kind>> = {
  host: "string",
  ns_port: "port",
  ns_bchost: "optionalString",
  ns_bcport: "port",
  ns_autoclean: "seconds",
  storage_type: "storageType",
  storage_file: "optionalString",
  storage_filename: "optionalString",
  storage: "string",
  broadcast: "boolean",
  curve_secret_key_file: "string",
  curve_authorized_clients: "string",
  federation: "cluster",
  beacon_port: "port",
  beacon_interval: "interval",
  peers: "peers",
  pair: "peer",
  etcd_endpoints: "peers",
  etcd_prefix: "etcdPrefix",
  etcd_ttl: "etcdTtl",
  global: "global",
};

export { defaultDataDirectory };

function defaultStorageFile(kind: "sqlite" | "file"): string {
  return join(defaultDataDirectory(), kind === "sqlite" ? "storage.sql" : "storage.journal");
}

const STORAGE_TYPES = ["memory", "sql", "sqlite", "dbm", "file", "etcd"];
/** etcd's own minimum lease TTL is 2 s. */
const MIN_ETCD_TTL = 2;
const MAX_ETCD_TTL = 3600;

/** A list of static peers, each `host:port` (or `host:port?key=<z85>`). */
function peerList(source: YamlSource, node: unknown, key: string): string[] {
  if (!isSeq(node)) throw source.error(node as Node, `${key} must be a list of host:port`);
  return node.items.map((item) => {
    const value = isScalar(item) ? item.value : undefined;
    if (typeof value !== "string") throw source.error(item as Node, `each of ${key} must be host:port`);
    try {
      parseStaticPeer(value);
    } catch (error) {
      throw source.error(item as Node, `${key}: ${(error as Error).message}`);
    }
    return value;
  });
}

function value(source: YamlSource, node: unknown, key: string, kind: Kind): unknown {
  return kind === "peers" ? peerList(source, node, key) : scalarValue(source, node, key, kind);
}

function scalarValue(source: YamlSource, node: unknown, key: string, kind: Exclude<Kind, "peers">): unknown {
  if (!isScalar(node)) throw source.error(node as Node, `${key} must be a single value, not a list or mapping`);
  const value = node.value;
  const fail = (expected: string): never => {
    throw source.error(node, `${key} must be ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case "string":
      if (typeof value !== "string" || value === "") fail("a non-empty string");
      return value;
    case "optionalString":
      if (value !== null && (typeof value !== "string" || value === "")) fail("a non-empty string or null");
      return value;
    case "port":
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) fail("a port number (0-65535)");
      return value;
    case "seconds":
      if (typeof value !== "number" || !(value === 0 || (value >= 1 && value <= MAX_AUTOCLEAN_SECONDS))) {
        fail(`0 (off) or a number of seconds from 1 to ${MAX_AUTOCLEAN_SECONDS}`);
      }
      return value;
    case "boolean":
      if (typeof value !== "boolean") fail("true or false");
      return value;
    case "storageType":
      if (typeof value !== "string" || !STORAGE_TYPES.includes(value)) fail(`one of ${STORAGE_TYPES.join(", ")}`);
      return value;
    case "cluster":
      if (!isClusterName(value)) fail("a cluster name of 1 to 64 bytes without control characters");
      return value;
    case "interval":
      if (typeof value !== "number" || !(value >= 0.05 && value <= 3600)) fail("a number of seconds from 0.05 to 3600");
      return value;
    case "etcdPrefix":
      if (typeof value !== "string") fail("a key prefix such as /labs/physics");
      try {
        return normalizePrefix(value as string);
      } catch (error) {
        throw source.error(node, `${key}: ${(error as Error).message}`);
      }
    case "etcdTtl":
      if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_ETCD_TTL || value > MAX_ETCD_TTL) fail(`a whole number of seconds from ${MIN_ETCD_TTL} to ${MAX_ETCD_TTL}`);
      return value;
    case "global":
      if (typeof value !== "string") fail("an etcd spec such as etcd://host:2379/labs");
      try {
        parseGlobalSpec(value as string);
      } catch (error) {
        throw source.error(node, `${key}: ${(error as Error).message}`);
      }
      return value;
    case "peer":
      if (typeof value !== "string") fail("host:port");
      try {
        parseStaticPeer(value as string);
      } catch {
        fail("host:port");
      }
      return value;
  }
}

function readProfile(source: YamlSource, name: string, node: Node | null): NameServerProfile {
  const values: Record<string, unknown> = {};
  if (node !== null && !(isScalar(node) && node.value === null)) {
    if (!isMap(node)) throw source.error(node, `nameserver profile ${JSON.stringify(name)} must be a mapping of settings`);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const kind = KEYS[key];
      if (!kind) {
        const suggestion = nearest(key, Object.keys(KEYS));
        throw source.error(pair as Pair, `unknown key ${JSON.stringify(key)} in nameserver profile ${JSON.stringify(name)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ""}`);
      }
      values[key] = value(source, pair.value, key, kind);
    }
  }
  // `storage: sql` is PyroLab's newer spelling of storage_type; `storage: sqlite:<path>` is ours.
  const storageKey = values.storage as string | undefined;
  const storageIsType = storageKey !== undefined && STORAGE_TYPES.includes(storageKey);
  const storageType = (values.storage_type as string | undefined) ?? (storageIsType ? storageKey : undefined) ?? "memory";
  const storageFile = (values.storage_file ?? values.storage_filename) as string | null | undefined;
  let storage = storageIsType ? undefined : storageKey;
  const etcdKeys = ["etcd_endpoints", "etcd_prefix", "etcd_ttl"].filter((key) => values[key] !== undefined);
  if (values.global !== undefined && values.federation === undefined) throw source.error(node!, `global needs federation (the cluster its leader bridges) in nameserver profile ${JSON.stringify(name)}`);
  if (values.global !== undefined) {
    try {
      checkGlobalCluster(values.federation as string);
    } catch (error) {
      throw source.error(node!, `global: ${(error as Error).message}`);
    }
  }
  if (storageType !== "etcd" && etcdKeys.length > 0) throw source.error(node!, `${etcdKeys.join(", ")} need storage_type: etcd in nameserver profile ${JSON.stringify(name)}`);
  if (storage === undefined && storageType === "etcd") {
    const endpoints = values.etcd_endpoints as string[] | undefined;
    if (!endpoints?.length) throw source.error(node!, `storage_type: etcd needs etcd_endpoints (a list of host:port) in nameserver profile ${JSON.stringify(name)}`);
    const ttl = values.etcd_ttl === undefined ? "" : `?ttl=${values.etcd_ttl as number}`;
    storage = `etcd://${endpoints.join(",")}${(values.etcd_prefix as string | undefined) ?? DEFAULT_ETCD_PREFIX}${ttl}`;
  }
  if (storage === undefined) {
    const kind = storageType === "sql" || storageType === "sqlite" ? "sqlite" : "file";
    storage = storageType === "memory" ? "memory" : `${kind}:${storageFile ? resolve(storageFile) : defaultStorageFile(kind)}`;
  }
  return {
    host: (values.host as string | undefined) ?? DEFAULT_PROFILE.host,
    port: (values.ns_port as number | undefined) ?? DEFAULT_PROFILE.port,
    bchost: (values.ns_bchost as string | null | undefined) ?? DEFAULT_PROFILE.bchost,
    bcport: (values.ns_bcport as number | undefined) ?? DEFAULT_PROFILE.bcport,
    broadcast: (values.broadcast as boolean | undefined) ?? DEFAULT_PROFILE.broadcast,
    autoclean: (values.ns_autoclean as number | undefined) ?? DEFAULT_PROFILE.autoclean,
    storage,
    ...(values.curve_secret_key_file !== undefined && { curveSecretKeyFile: resolve(values.curve_secret_key_file as string) }),
    ...(values.curve_authorized_clients !== undefined && { curveAuthorizedClients: resolve(values.curve_authorized_clients as string) }),
    ...(values.federation !== undefined && { federation: values.federation as string }),
    beaconPort: (values.beacon_port as number | undefined) ?? DEFAULT_PROFILE.beaconPort,
    beaconInterval: (values.beacon_interval as number | undefined) ?? DEFAULT_PROFILE.beaconInterval,
    peers: (values.peers as string[] | undefined) ?? DEFAULT_PROFILE.peers,
    ...(values.pair !== undefined && { pair: values.pair as string }),
    ...(values.global !== undefined && { global: values.global as string }),
  };
}

/** Reads the nameserver profiles of a config file, PyroLab's format (a list of single-key mappings, or a mapping). */
export function readNameServerProfiles(source: YamlSource): Map<string, NameServerProfile> {
  const profiles = new Map<string, NameServerProfile>();
  const root = source.root;
  if (root === null) return profiles;
  if (!isMap(root)) throw source.error(root, `a config file is a mapping with the sections ${SECTIONS.join(", ")}`);
  for (const pair of root.items) {
    const section = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!(SECTIONS as readonly string[]).includes(section)) {
      const suggestion = nearest(section, SECTIONS);
      throw source.error(pair as Pair, `unknown section ${JSON.stringify(section)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ""}`);
    }
  }
  const section = root.get("nameservers", true) as Node | undefined;
  if (section === undefined || (isScalar(section) && section.value === null)) return profiles;
  const add = (keyNode: unknown, value: Node | null): void => {
    const name = isScalar(keyNode) ? String(keyNode.value) : "";
    if (!name) throw source.error(keyNode as Node, "a nameserver profile needs a name");
    if (profiles.has(name)) throw source.error(keyNode as Node, `nameserver profile ${JSON.stringify(name)} is defined twice`);
    profiles.set(name, readProfile(source, name, value));
  };
  if (isSeq(section)) {
    for (const item of section.items) {
      if (!isMap(item) || item.items.length !== 1) throw source.error(item as Node, "each item of the nameservers list must be a single `name: {settings}` mapping");
      const only = item.items[0]!;
      add(only.key, only.value as Node | null);
    }
  } else if (isMap(section)) {
    for (const pair of section.items) add(pair.key, pair.value as Node | null);
  } else {
    throw source.error(section, "nameservers must be a list of `name: {settings}` or a mapping");
  }
  return profiles;
}

/** The config file to use: the explicit one, else PYRO_TS_CONFIG, else ./pyro-ts.yml if present. */
export function findConfigFile(explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.PYRO_TS_CONFIG) return process.env.PYRO_TS_CONFIG;
  return existsSync("pyro-ts.yml") ? "pyro-ts.yml" : undefined;
}

/** A named nameserver profile from the config file, or the built-in `default`. */
export function nameServerProfile(name: string, configFile?: string): NameServerProfile {
  const file = findConfigFile(configFile);
  const profiles = file ? readNameServerProfiles(YamlSource.read(file)) : new Map<string, NameServerProfile>();
  const found = profiles.get(name) ?? (name === "default" ? DEFAULT_PROFILE : undefined);
  if (found) return found;
  const known = [...new Set([...profiles.keys(), "default"])];
  const suggestion = nearest(name, known);
  throw new ConfigError(
    `${file ?? "no config file"}: no nameserver profile ${JSON.stringify(name)} (profiles: ${known.join(", ")}${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : ""})`,
  );
}
