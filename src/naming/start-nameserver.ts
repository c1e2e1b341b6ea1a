import { Daemon, type DaemonOptions } from "./named-daemon.js";
import type { TransportOptions } from "../transport/options.js";
import { Autocleaner } from "./autoclean.js";
import { BroadcastResponder } from "./broadcast-responder.js";
import { DEFAULT_BROADCAST_PORT, DEFAULT_NS_PORT, NAMESERVER_NAME } from "../names.js";
import { NameServer } from "./nameserver.js";
import { openNameStorage } from "./storage/open-storage.js";
import { readSecretKeyFile } from "../transport/curve.js";
import { Federation } from "../federation/federation.js";
import { IdentityFile } from "./identity-file.js";
import type { FederationOptions } from "../federation/federation-options.js";
import { checkGlobalCluster, GlobalBridge, parseGlobalSpec } from "../global/index.js";
import { isIPv4 } from "node:net";
import { NAMESERVER_HOST_ID, NameServerHost, type RespawnCommand } from "./host/nameserver-host.js";

export type { RespawnCommand };

export interface NameServerOptions extends TransportOptions, Pick<DaemonOptions, "curve" | "transport" | "tls"> {
  /** Host to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; default 9090, 0 picks a free one. */
  readonly port?: number;
  /** Broadcast responder: false to disable. Default enabled. */
  readonly broadcast?: boolean;
  /** Address the broadcast responder binds. Default 0.0.0.0 (every interface). */
  readonly bchost?: string;
  /** UDP port of the broadcast responder; default 9091, 0 picks a free one. */
  readonly bcport?: number;
  /** `memory` (default), `file:<path>`, `sqlite:<path>`, or `etcd://host:port[,host:port...]/prefix[?ttl=seconds]` (shared by every nameserver on that prefix). */
  readonly storage?: string;
  /** Seconds between autoclean sweeps; 0 (the default) disables autoclean. */
  readonly autoclean?: number;
  /** How long a name may be unreachable before autoclean removes it, in seconds. Default: two sweeps. */
  readonly autocleanGrace?: number;
  /** Join the nameservers of a cluster (off unless given): beacons, heartbeat table, `peers()`. */
  readonly federation?: FederationOptions;
  /**
   * Global discovery (needs `federation`): `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`.
   * While this nameserver leads its cluster, it writes the cluster's names under
   * `<prefix>/<cluster>/` and brings every other cluster's names in (docs/federation.md).
   */
  readonly global?: string;
  /**
   * How to start this nameserver again (set by the CLI for a detached nameserver): the
   * processes on this host that keep names respawn it so when it dies. Without it, they
   * only wait for it to come back.
   */
  readonly respawn?: RespawnCommand;
}


/** A running nameserver: its daemon, the NameServer object, and what runs beside it. */
export interface RunningNameServer {
  readonly uri: string;
  readonly daemon: Daemon;
  readonly nameserver: NameServer;
  /** UDP port of the broadcast responder, when it runs. */
  readonly bcport: number | undefined;
  /** The federation this nameserver takes part in, when it federates. */
  readonly federation: Federation | undefined;
  /** Its bridge to other clusters through etcd, with `global`. */
  readonly global: GlobalBridge | undefined;
  close(): Promise<void>;
}

/** Starts a nameserver: a Daemon serving a NameServer, plus broadcast responder and autoclean. */
export async function startNameServer(options: NameServerOptions = {}): Promise<RunningNameServer> {
  // Refused before anything opens: a bad spec or cluster name is a usage error, not a half-started nameserver.
  const global = options.global === undefined ? undefined : parseGlobalSpec(options.global);
  if (global && !options.federation) throw new RangeError("global discovery (--global) needs federation (--federate <cluster>): the cluster's leader is what bridges it");
  if (global) checkGlobalCluster(options.federation!.cluster);
  const storage = await openNameStorage(options.storage ?? "memory");
  if (storage.shared && options.federation) {
    await storage.close();
    throw new RangeError("federation and etcd storage do not combine: the nameservers on one etcd prefix already share their names");
  }
  let daemon: Daemon | undefined;
  let responder: BroadcastResponder | undefined;
  let autocleaner: Autocleaner | undefined;
  let federation: Federation | undefined;
  let bridge: GlobalBridge | undefined;
  let host: NameServerHost | undefined;
  try {
    daemon = new Daemon({ ...options, host: options.host ?? "127.0.0.1", port: options.port ?? DEFAULT_NS_PORT });
    // Started first: a TCP daemon on port 0 knows its port, and so its URIs, only then.
    await daemon.start();
    const nameserver = new NameServer(storage);
    const uri = daemon.register(nameserver, NAMESERVER_NAME);
    nameserver._registerSelf(uri);
    host = new NameServerHost(options.respawn);
    daemon.register(host, NAMESERVER_HOST_ID);
    if (options.broadcast !== false) {
      responder = await BroadcastResponder.start(uri, options.bchost ?? "0.0.0.0", options.bcport ?? DEFAULT_BROADCAST_PORT);
    }
    if (options.autoclean) {
      autocleaner = new Autocleaner(nameserver, {
        interval: options.autoclean,
        ...(options.curve && { clientKeys: readSecretKeyFile(options.curve.secretKeyFile) }),
        ...(options.autocleanGrace !== undefined && { grace: options.autocleanGrace * 1000 }),
      });
      autocleaner.start();
    }
    if (options.federation) {
      const location = daemon.location;
      if (location.transport !== "tcp") throw new RangeError("federation needs a nameserver on TCP");
      const host = options.host ?? "127.0.0.1";
      // With file or sqlite storage, the nameserver stays the same member of its cluster across restarts.
      const identity = IdentityFile.forStorage(options.storage ?? "memory");
      federation = await Federation.start(options.federation, {
        daemon,
        endpoint: `${location.host.includes(":") ? `[${location.host}]` : location.host}:${location.port}`,
        bindHost: isIPv4(host) ? host : "0.0.0.0",
        ...(options.curve && { keys: readSecretKeyFile(options.curve.secretKeyFile) }),
        ...(identity && { identity }),
        storage,
        transport: options,
      });
      nameserver._federate(federation);
      if (global) bridge = GlobalBridge.start(federation, { global, cluster: options.federation.cluster });
    }
    const running = daemon;
    const supervision = host;
    let closing: Promise<void> | undefined;
    return {
      uri,
      daemon: running,
      nameserver,
      bcport: responder?.port,
      federation,
      global: bridge,
      close: () =>
        (closing ??= (async () => {
          // First, so the host's processes and peers hear it while our daemon still answers.
          supervision._retire();
          await federation?.close();
          // After the federation: its members know we left, so the next leader takes our names over in etcd before our lease goes.
          await bridge?.close();
          await autocleaner?.stop();
          await responder?.close();
          await running.close();
          supervision._close();
          await storage.close();
        })()),
    };
  } catch (error) {
    await federation?.close();
    await bridge?.close();
    await autocleaner?.stop();
    await responder?.close();
    await daemon?.close();
    host?._close();
    await storage.close();
    throw error;
  }
}
