/**
 * The naming side of the lab-host federation tests: a fixture script run on a lab host,
 * and each host's replica read through the CLI run on that host (`ns list --json`,
 * `ns lookup`, `ns conflicts --json`), for test/federation-hosts-names.test.ts.
 */
import { fileURLToPath } from "node:url";
import { NodeChild } from "../node-child.js";
import { NS_PORT } from "./federation.js";
import type { LabNetwork } from "./lab-network.js";

/** The compiled fixture serving a Laser on a host address (build first), relative to this file in test/netns/. */
export const HOST_LASER = fileURLToPath(new URL("../../dist/test/fixtures/host-laser.js", import.meta.url));

/** Each nameserver's own entry: local to it, never replicated, so left out of comparisons. */
export const NAMESERVER_NAME = "pyro-ts.NameServer";

/** What `ns list --json` prints per name. */
export interface ListedName {
  readonly uri: string;
  readonly metadata: readonly string[];
  readonly origin?: string;
}

export interface ListedClaim {
  readonly uri: string;
  readonly origin: string;
  readonly qualified: string;
}

/** What `ns conflicts --json` prints per contested name. */
export interface ListedConflict {
  readonly name: string;
  readonly winner: ListedClaim;
  readonly losers: readonly ListedClaim[];
}

/** `host:port` of the nameserver on `host`. */
export function nsOf(lab: LabNetwork, host: string): string {
  return `${lab.host(host).address}:${NS_PORT}`;
}

/** Like lab.spawn for a compiled script rather than the CLI; with no pyro-ts settings of the developer's (as lab processes). */
export function spawnScript(lab: LabNetwork, host: string, script: string, args: readonly string[]): NodeChild {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("PYRO_TS_")) delete env[key];
  // `ip netns exec` execs node in place, so signals reach it; removing the namespace kills it too.
  return new NodeChild(`${host}: ${script} ${args.join(" ")}`, script, args, { via: ["ip", "netns", "exec", lab.host(host).namespace], env });
}

/** Runs `pyro-ts ns <args> --ns <host's nameserver>` on `host`: its stdout, or why it failed. */
async function nsCommand(lab: LabNetwork, host: string, args: readonly string[]): Promise<{ ok: string } | { failed: string }> {
  const full = ["ns", ...args, "--ns", nsOf(lab, host)];
  const result = await lab.execCli(host, full, 5000);
  if (result.code === 0) return { ok: result.stdout };
  const how = result.timedOut ? "timed out" : result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
  return { failed: `${host}: pyro-ts ${full.join(" ")}: ${how}: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 3000)}` };
}

function parseJson<T>(text: string, command: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${command} printed no JSON: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

/** `ns list --json` on `host`, without the nameserver's own entry, or why it could not be read. */
export async function listNames(lab: LabNetwork, host: string): Promise<Map<string, ListedName> | string> {
  const out = await nsCommand(lab, host, ["list", "--json"]);
  if ("failed" in out) return out.failed;
  const entries = parseJson<Record<string, ListedName>>(out.ok, `${host}: ns list --json`);
  return new Map(Object.entries(entries).filter(([name]) => name !== NAMESERVER_NAME));
}

/** `ns conflicts --json` on `host`, or why it could not be read. */
export async function listConflicts(lab: LabNetwork, host: string): Promise<ListedConflict[] | string> {
  const out = await nsCommand(lab, host, ["conflicts", "--json"]);
  if ("failed" in out) return out.failed;
  return parseJson<ListedConflict[]>(out.ok, `${host}: ns conflicts --json`);
}

/** `ns lookup <name>` on `host`: the URI, or why there is none. */
export async function lookupName(lab: LabNetwork, host: string, name: string): Promise<{ uri: string } | { failed: string }> {
  const out = await nsCommand(lab, host, ["lookup", name]);
  return "failed" in out ? out : { uri: out.ok.trim() };
}

/** `ns register <name> <uri>` on `host`; fails the test if refused (a partition must not stop local registrations). */
export async function registerName(lab: LabNetwork, host: string, name: string, uri: string): Promise<void> {
  const out = await nsCommand(lab, host, ["register", name, uri]);
  if ("failed" in out) throw new Error(out.failed);
}

/** The lists of all `hosts`, read at once, or why one could not be read. */
export async function listsOf(lab: LabNetwork, hosts: readonly string[]): Promise<Map<string, Map<string, ListedName>> | string> {
  const read = await Promise.all(hosts.map(async (host) => [host, await listNames(lab, host)] as const));
  const lists = new Map<string, Map<string, ListedName>>();
  for (const [host, list] of read) {
    if (typeof list === "string") return list;
    lists.set(host, list);
  }
  return lists;
}

/** One line per name, sorted: what two replicas must show alike. */
export function describeList(list: ReadonlyMap<string, ListedName>): string {
  return [...list]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, e]) => `${name} ${e.uri} ${e.origin ?? "-"}`)
    .join("; ");
}
