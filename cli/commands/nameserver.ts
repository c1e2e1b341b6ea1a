import { Option, type Command } from "commander";
import { startNameServer } from "../../src/index.js";
import { mkdirSync } from "node:fs";
import { defaultDataDirectory, nameServerProfile, type NameServerProfile } from "../../src/config/nameserver-profiles.js";
import { autocleanSeconds, port, positiveNumber, UsageError } from "../output.js";
import { checkGlobalCluster, parseGlobalSpec } from "../../src/global/global-spec.js";
import { announceRunning, detachNameServer, forgetRunning, reportStartFailure } from "./nameserver-detach.js";

interface NameServerFlags {
  config?: string;
  profile: string;
  host?: string;
  port?: number;
  bchost?: string;
  bcport?: number;
  broadcast?: boolean;
  storage?: string;
  autoclean?: number;
  curveSecret?: string;
  transport?: "zmq" | "tcp";
  authorizedClients?: string;
  federate?: string;
  beaconPort?: number;
  beaconInterval?: number;
  peer?: string[];
  pair?: string;
  global?: string;
  detach?: boolean;
  /** Hidden: set on the command line of a detached nameserver (its working directory, its log). */
  detachedChild?: string;
  logFile?: string;
}

function repeated(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Federation settings from flags over the profile; undefined when no cluster is named. */
function federationOptions(flags: NameServerFlags, profile: NameServerProfile) {
  const cluster = flags.federate ?? profile.federation;
  const peers = [...profile.peers, ...(flags.peer ?? [])];
  const pair = flags.pair ?? profile.pair;
  const global = flags.global ?? profile.global;
  if (!cluster) {
    if (peers.length > 0 || pair !== undefined || global !== undefined || flags.beaconPort !== undefined || flags.beaconInterval !== undefined) throw new UsageError("--peer, --pair, --global, --beacon-port and --beacon-interval need --federate <cluster>");
    return {};
  }
  return {
    federation: { cluster, beaconPort: flags.beaconPort ?? profile.beaconPort, beaconInterval: flags.beaconInterval ?? profile.beaconInterval, peers, ...(pair !== undefined && { pair }) },
    ...(global !== undefined && { global: checkedGlobal(global, cluster) }),
  };
}

/** A --global spec and the cluster it bridges, refused as a usage error when either will not do. */
function checkedGlobal(spec: string, cluster: string): string {
  try {
    parseGlobalSpec(spec);
    checkGlobalCluster(cluster);
  } catch (error) {
    throw new UsageError(`--global: ${error instanceof Error ? error.message : String(error)}`);
  }
  return spec;
}

/** The key file secures the nameserver with CURVE on ZeroMQ, with TLS on TCP (keygen puts both in it). */
function securityOptions(transport: "zmq" | "tcp" | undefined, secretKeyFile: string | undefined, authorizedClients: string | undefined) {
  if (!secretKeyFile) {
    if (authorizedClients) throw new UsageError("--authorized-clients needs --curve-secret (the nameserver's own key)");
    return {};
  }
  const keys = { secretKeyFile, ...(authorizedClients && { authorizedClients }) };
  return transport === "tcp" ? { tls: keys } : { curve: keys };
}

export function nameserverCommand(program: Command): void {
  program
    .command("nameserver")
    .description("run a nameserver (Ctrl-C to stop)")
    .option("-c, --config <file>", "YAML config file (else PYRO_TS_CONFIG, else ./pyro-ts.yml)")
    .option("-l, --profile <name>", "nameserver profile from the config file", "default")
    .option("-n, --host <host>", "host to bind (profile: host)")
    .option("-p, --port <port>", "port (profile: ns_port)", port)
    .option("--bchost <host>", "broadcast responder address (profile: ns_bchost)")
    .option("--bcport <port>", "broadcast responder UDP port (profile: ns_bcport)", port)
    .option("-x, --no-broadcast", "do not answer broadcast lookups")
    .option("-s, --storage <spec>", "memory, file:<path>, sqlite:<path>, or etcd://host:port[,host:port...]/prefix[?ttl=seconds] (shared by every nameserver on the prefix)")
    .addOption(new Option("--transport <transport>", "zmq (the default) or tcp: serve over a direct TCP connection; clients use --ns-transport tcp, or find it by broadcast").choices(["zmq", "tcp"]))
    .option("--curve-secret <file>", "encrypt with this key file (pyro-ts keygen): CURVE, or TLS with --transport tcp; profile: curve_secret_key_file")
    .option("--authorized-clients <dir>", "admit only clients whose .pub file is in this folder; profile: curve_authorized_clients")
    .option("--autoclean <seconds>", "remove unreachable names, checking every N seconds (0 = off)", autocleanSeconds)
    .option("--federate <cluster>", "join the other nameservers of this cluster on the LAN (profile: federation)")
    .option("--beacon-port <port>", "UDP port of the cluster's beacons, default 9999 (profile: beacon_port)", port)
    .option("--beacon-interval <seconds>", "seconds between beacons, default 1 (profile: beacon_interval)", positiveNumber)
    .option("--peer <host:port>", "also link to this nameserver, which no broadcast reaches (repeatable; profile: peers)", repeated)
    .option("--pair <host:port>", "the other nameserver of an active/standby pair: changes return once it holds them, and it answers for ours if we die (profile: pair)")
    .option("--global <etcd spec>", "etcd://host:port[,host:port...]/prefix[?ttl=seconds]: the cluster's leader shares its names with the other clusters there, and brings theirs in (profile: global)")
    .option("--detach", "run in the background, outliving this command: print its URI and pid, then exit (stop it with pyro-ts ns stop)")
    .addOption(new Option("--detached-child <cwd>").hideHelp())
    .addOption(new Option("--log-file <file>").hideHelp())
    .action(async (flags: NameServerFlags) => {
      // A detached nameserver works where it was started from, wherever it is respawned from.
      if (flags.detachedChild) process.chdir(flags.detachedChild);
      const detachedLog = flags.detachedChild ? flags.logFile : undefined;
      const profile = nameServerProfile(flags.profile, flags.config);
      if (flags.detach) return detachNameServer(flags.host ?? profile.host, flags.port ?? profile.port);
      const storage = flags.storage ?? profile.storage;
      // The default data directory (sql or dbm storage without a file) is ours to create.
      if (storage.includes(defaultDataDirectory())) mkdirSync(defaultDataDirectory(), { recursive: true });
      const ns = await startNameServer({
        host: flags.host ?? profile.host,
        port: flags.port ?? profile.port,
        bchost: flags.bchost ?? profile.bchost,
        bcport: flags.bcport ?? profile.bcport,
        broadcast: flags.broadcast === false ? false : profile.broadcast,
        storage,
        autoclean: flags.autoclean ?? profile.autoclean,
        ...(flags.transport && { transport: flags.transport }),
        ...securityOptions(flags.transport, flags.curveSecret ?? profile.curveSecretKeyFile, flags.authorizedClients ?? profile.curveAuthorizedClients),
        ...federationOptions(flags, profile),
        ...(detachedLog && { respawn: { argv: process.argv.slice(1), logFile: detachedLog } }),
      }).catch(async (error: unknown) => {
        if (detachedLog) await reportStartFailure(error);
        throw error;
      });
      process.stdout.write(`nameserver running at ${ns.uri}\n`);
      if (ns.bcport !== undefined) process.stdout.write(`broadcast responder on udp port ${ns.bcport}\n`);
      if (ns.federation) process.stdout.write(`federating in cluster ${ns.federation.cluster} as ${ns.federation.id}, beacons on udp port ${ns.federation.beaconPort}\n`);
      if (ns.global) process.stdout.write(`bridging cluster ${ns.global.cluster} to etcd ${ns.global.spec.endpoints.join(",")}${ns.global.spec.prefix} while it leads\n`);
      const stopped = new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      // Only now: whoever reads the pid file may signal us at once.
      await announceRunning(ns.uri, detachedLog);
      await stopped;
      await ns.close();
      forgetRunning(ns.uri);
      process.stdout.write("nameserver stopped\n");
    });
}
