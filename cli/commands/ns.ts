import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import type { NameConflict, NameEntry, PeerInfo } from "../../src/index.js";
import { clientOptions, withNsFlags, type NsFlags } from "../nameserver-client.js";
import { commaList, print, UsageError } from "../output.js";
import { nsStopCommand } from "./ns-stop.js";
import { pyro5NsOption, withPyro5Ns, type Pyro5Flags } from "../pyro5-commands.js";

interface ListFlags extends NsFlags, Pyro5Flags {
  regex?: string;
  metaAll?: string[];
  metaAny?: string[];
  json?: boolean;
}

/** Origins are 32 hex digits; 8 tell a cluster's nameservers apart (`--json` has them whole). */
const shortOrigin = (origin: string): string => origin.slice(0, 8);

function table(entries: Record<string, NameEntry>): string {
  const names = Object.keys(entries);
  if (names.length === 0) return "(no names)";
  const width = Math.max(...names.map((n) => n.length));
  return names
    .map((name) => {
      const { uri, metadata, origin } = entries[name]!;
      // A federated nameserver says where each name was registered.
      const from = origin === undefined ? "" : `${shortOrigin(origin)}  `;
      return `${name.padEnd(width)}  ${from}${uri}${metadata.length ? `  [${metadata.join(", ")}]` : ""}`;
    })
    .join("\n");
}

/** Conflicts as text: each name, the claim that wins it, and the others by their qualified forms. */
function conflictTable(conflicts: NameConflict[]): string {
  if (conflicts.length === 0) return "(no conflicts)";
  return conflicts
    .flatMap(({ name, winner, losers }) => [
      `${name}  won by ${shortOrigin(winner.origin)}  ${winner.uri}`,
      ...losers.map((loser) => `  lost by ${shortOrigin(loser.origin)}  ${loser.uri}  (reach it as ${loser.qualified})`),
    ])
    .join("\n");
}

/** The heartbeat table as text: one row per nameserver, ours marked with `*`. */
function peerTable(peers: PeerInfo[]): string {
  if (peers.length === 0) return "(this nameserver does not federate: start it with --federate <cluster>)";
  const now = Date.now();
  const rows = [
    ["", "id", "endpoint", "host", "state", "incarnation", "last heard", "leader"],
    ...peers.map((p) => [
      p.self ? "*" : "",
      p.id,
      p.endpoint,
      p.host,
      p.state,
      String(p.incarnation),
      p.self ? "-" : p.lastHeard === null ? "never" : `${((now - p.lastHeard) / 1000).toFixed(1)} s ago`,
      p.leader ? "leader" : "",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** What `ns ping` and `ns peers` add when the nameserver's shared store is unreachable. */
const STALE = ": but its etcd storage cannot be reached, so its names may be stale (registrations fail until it is back)";

export function nsCommand(program: Command): void {
  const ns = program.command("ns").description("talk to the nameserver");

  pyro5NsOption(clientOptions(ns.command("list")))
    .description("list names, optionally by prefix, regex or metadata")
    .argument("[prefix]", "only names starting with this")
    .option("--regex <pattern>", "only names matching this regex (from the start)")
    .option("--meta-all <tags>", "only names with all these tags (a,b)", commaList)
    .option("--meta-any <tags>", "only names with any of these tags (a,b)", commaList)
    .option("--json", "print JSON")
    .action(async (prefix: string | undefined, flags: ListFlags) => {
      const query = {
        returnMetadata: true,
        ...(prefix !== undefined && { prefix }),
        ...(flags.regex !== undefined && { regex: flags.regex }),
        ...(flags.metaAll && { metadataAll: flags.metaAll }),
        ...(flags.metaAny && { metadataAny: flags.metaAny }),
      } as const;
      const entries = flags.pyro5Ns !== undefined
        ? await withPyro5Ns(flags.pyro5Ns, (server) => server.list(query))
        : await withNsFlags(flags, (server) => server.list(query));
      print(entries, flags.json === true, table);
    });

  pyro5NsOption(clientOptions(ns.command("lookup")))
    .description("print the URI of a name")
    .argument("<name>")
    .option("--json", "print JSON with the metadata")
    .action(async (name: string, flags: NsFlags & Pyro5Flags & { json?: boolean }) => {
      const entry = flags.pyro5Ns !== undefined
        ? await withPyro5Ns(flags.pyro5Ns, (server) => server.lookup(name, { returnMetadata: true }))
        : ((await withNsFlags(flags, (server) => server.lookup(name, { returnMetadata: true }))) as NameEntry);
      print(entry, flags.json === true, (e: NameEntry) => e.uri);
    });

  clientOptions(ns.command("register"))
    .description("register a name for a URI")
    .argument("<name>")
    .argument("<uri>")
    .option("--meta <tags>", "metadata tags (a,b)", commaList)
    .option("--safe", "fail if the name is already registered")
    .option("--unique", "never replace: take the name, or the first free of name-2, name-3... (printed)")
    .action(async (name: string, uri: string, flags: NsFlags & { meta?: string[]; safe?: boolean; unique?: boolean }) => {
      const taken = await withNsFlags(flags, (server) => server.register(name, uri, { safe: flags.safe === true, unique: flags.unique === true, metadata: flags.meta ?? [] }));
      process.stdout.write(`registered ${taken}\n`);
    });

  clientOptions(ns.command("remove"))
    .description("remove a name, or every name matching a prefix or regex")
    .argument("<name>", "the name, prefix or regex")
    .option("--prefix", "remove every name starting with <name>")
    .option("--regex", "remove every name matching the regex <name>")
    .option("-y, --yes", "do not ask before removing several names")
    .action(async (target: string, flags: NsFlags & { prefix?: boolean; regex?: boolean; yes?: boolean }) => {
      const query = flags.regex ? { regex: target } : flags.prefix ? { prefix: target } : undefined;
      const count = await withNsFlags(flags, async (server) => {
        if (!query) return server.remove(target);
        const matching = Object.keys(await server.list(query));
        if (matching.length === 0) return 0;
        if (!flags.yes && !(await confirm(`remove ${matching.length} name(s): ${matching.join(", ")}?`))) {
          throw new UsageError("not removed: confirm with --yes when not at a terminal");
        }
        return server.remove(query);
      });
      process.stdout.write(`removed ${count} name(s)\n`);
    });

  clientOptions(ns.command("setmeta"))
    .description("replace the metadata tags of a name")
    .argument("<name>")
    .argument("<tags>", "comma-separated tags (\"\" for none)")
    .action(async (name: string, tags: string, flags: NsFlags) => {
      const list = tags.split(",").map((t) => t.trim()).filter(Boolean);
      await withNsFlags(flags, (server) => server.setMetadata(name, list));
      process.stdout.write(`metadata of ${name}: ${list.join(", ") || "(none)"}\n`);
    });

  clientOptions(ns.command("ping"))
    .description("check that the nameserver answers")
    .action(async (flags: NsFlags) => {
      const [uri, stale] = await withNsFlags(flags, async (server) => {
        await server.ping();
        return [server.$uri, await server.stale] as const;
      });
      process.stdout.write(`nameserver ${uri} is alive${stale ? STALE : ""}\n`);
    });

  clientOptions(ns.command("peers"))
    .description("print the federation's heartbeat table: every nameserver of the cluster and its state")
    .option("--json", "print JSON")
    .action(async (flags: NsFlags & { json?: boolean }) => {
      const [peers, stale] = await withNsFlags(flags, async (server) => [await server.peers(), await server.stale] as const);
      print(peers, flags.json === true, peerTable);
      if (stale) process.stderr.write(`pyro-ts: the nameserver${STALE}\n`);
    });

  clientOptions(ns.command("conflicts"))
    .description("print names registered on more than one nameserver of the cluster, and which claim wins")
    .option("--json", "print JSON")
    .action(async (flags: NsFlags & { json?: boolean }) => {
      const conflicts = await withNsFlags(flags, (server) => server.conflicts());
      print(conflicts, flags.json === true, conflictTable);
    });

  nsStopCommand(ns);

  clientOptions(ns.command("watch"))
    .description("print registrations, removals, metadata and peer changes as they happen (Ctrl-C to stop)")
    .option("--json", "print one JSON object per line")
    .action(async (flags: NsFlags & { json?: boolean }) => {
      await withNsFlags(flags, async (server) => {
        const out = (event: Record<string, unknown>, text: string): void => {
          process.stdout.write(`${flags.json ? JSON.stringify(event) : text}\n`);
        };
        await server.registered.connect((name, uri, metadata) => out({ event: "registered", name, uri, metadata }, `+ ${name} ${uri}${metadata.length ? ` [${metadata.join(", ")}]` : ""}`));
        await server.removed.connect((name, uri) => out({ event: "removed", name, uri }, `- ${name} ${uri}`));
        await server.metadataChanged.connect((name, metadata) => out({ event: "metadataChanged", name, metadata }, `~ ${name} [${metadata.join(", ")}]`));
        await server.conflict.connect((name, uri, origin) => out({ event: "conflict", name, winnerUri: uri, winnerOrigin: origin }, `! ${name}: registered here, but ${shortOrigin(origin)} claimed it first (${uri})`));
        await server.peerChanged.connect((peer) => out({ event: "peerChanged", ...peer }, `@ peer ${peer.id} ${peer.endpoint} ${peer.change}${peer.leader ? " (leader)" : ""}`));
        server.registered.missed.connect((gap) => out({ event: "missed", ...gap }, `! events may have been missed (${gap.reason})`));
        process.stdout.write(`watching ${server.$uri}\n`);
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
      });
    });
}
