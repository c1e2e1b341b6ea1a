import { randomBytes } from "node:crypto";
import type { SecurityError } from "../errors.js";
import { Signal } from "../signal.js";
import type { CurveKeyPair } from "../transport/curve.js";
import type { TransportOptions } from "../transport/options.js";
import { DEFAULT_BEACON_PORT, type Beacon } from "./beacon-frame.js";
import { BeaconSocket, type BeaconStats } from "./beacon-socket.js";
import { broadcastAddresses } from "./broadcast-addresses.js";
import { checkFederationOptions, parseStaticPeer, type FederationOptions } from "./federation-options.js";
import type { PeerChange, PeerInfo } from "./member.js";
import type { IdentityKeeper } from "./federation-identity.js";
import { Membership, type MembershipOutput } from "./membership.js";
import { DEFAULT_TIMING } from "./membership-timing.js";
import { FEDERATION_OBJECT_ID, PeerInbox } from "./peer-inbox.js";
import type { OwnNames } from "./pair-link.js";
import { refusal } from "./pair-message.js";
import { PeerLinks } from "./peer-links.js";
import type { NameEvent } from "./replica-view.js";
import type { RemoteOrigins } from "./replica-remote.js";
import { ReplicationDriver, type ReplicatedNames, type ReplicationStats } from "./replication-driver.js";

/** What federation needs of the daemon serving the nameserver: a place for the peer inbox. */
export interface InboxHost {
  register(target: object, id: string): string;
  unregister(id: string): boolean;
}

/** The nameserver a federation runs for. */
export interface FederatedNameServer {
  /** Its daemon, which also serves the peer inbox. */
  readonly daemon: InboxHost;
  /** `host:port` peers reach it at. */
  readonly endpoint: string;
  /** The IPv4 address its sockets are bound to (beacons go out from there). */
  readonly bindHost: string;
  /** Its CURVE keys, when it encrypts: the public key travels in beacons, the pair opens peer links. */
  readonly keys?: CurveKeyPair;
  readonly transport?: TransportOptions;
  /** Where warnings go (a peer refused our key, a peer sent garbage). */
  readonly onWarning?: (message: string) => void;
  /** Keeps its id and counters across restarts (file and sqlite storage); else a new id at each start. */
  readonly identity?: IdentityKeeper;
  /** Its storage: names taken over from a pair partner are kept there, and handed-back ones leave it. */
  readonly storage?: OwnNames;
}

/** Counters of what federation received and refused, for `ns peers and tests` and tests. */
export interface FederationStats {
  readonly beacon: BeaconStats;
  /** Peer messages refused as malformed. */
  readonly refusedMessages: number;
  /** Messages that did not reach a peer. */
  readonly lostMessages: number;
  /** Peer connections open now. */
  readonly links: number;
  /** Registry replication: records refused or ignored, messages from non-members. */
  readonly replication: ReplicationStats;
}

const LEAVE_FLUSH_MS = 500;

/**
 * Runs the membership and registry replication state machines for one nameserver:
 * beacons over UDP, peer messages over ZeroMQ (delivered to the peer inbox on each
 * nameserver's own daemon), and one timer set to the machines' next deadline. Membership
 * changes are emitted on `peerChanged`, changes of the cluster's names on `nameChanged`.
 */
export class Federation {
  /** A member joined, became suspect, dead or left, or was alive again. */
  readonly peerChanged = new Signal<[change: PeerChange]>();
  /**
   * The naming view changed, for a change made here or anywhere in the cluster: a name's
   * visible record was registered, removed or retagged, or an origin newly lost a name to another.
   */
  readonly nameChanged = new Signal<[event: NameEvent]>();
  /** The cluster's leader as this nameserver sees it changed: the lowest live id, ours included (src/global bridges through it). */
  readonly leaderChanged = new Signal<[leader: string]>();
  readonly #membership: Membership;
  readonly #replication: ReplicationDriver;
  readonly #beacons: BeaconSocket;
  readonly #links: PeerLinks;
  readonly #host: FederatedNameServer;
  readonly #broadcast: readonly string[];
  #timer: NodeJS.Timeout | undefined;
  #refused = 0;
  #closing: Promise<void> | undefined;
  /** Set once we have left: nothing more is fed to the state machine. */
  #stopped = false;

  private constructor(membership: Membership, beacons: BeaconSocket, links: PeerLinks, host: FederatedNameServer, broadcast: readonly string[], pair: string | undefined, warn: (message: string) => void) {
    this.#membership = membership;
    const keeper = host.identity;
    const identity = keeper?.identity();
    this.#replication = new ReplicationDriver(membership.self.id, {
      send: (to, message) => links.send(to, message),
      emit: (event) => this.nameChanged.emit(event),
      ...(keeper && identity && { counters: { version: identity.version, clock: identity.clock, reached: (version: number, clock: number) => keeper.reached(version, clock) } }),
      request: (to, message, timeoutMs) => links.request(to, message, timeoutMs),
      ...(pair !== undefined && { pair }),
      ...(host.storage && { storage: host.storage }),
      warn,
      leaderChanged: (leader) => this.leaderChanged.emit(leader),
    });
    this.#beacons = beacons;
    this.#links = links;
    this.#host = host;
    this.#broadcast = broadcast;
  }

  /** Joins the cluster: opens the beacon port, serves the peer inbox, starts beaconing. */
  static async start(options: FederationOptions, host: FederatedNameServer): Promise<Federation> {
    checkFederationOptions(options);
    const identity = host.identity?.identity();
    const id = identity?.id ?? randomBytes(16).toString("hex");
    const broadcast = options.broadcast ?? broadcastAddresses(host.bindHost);
    const pair = options.pair === undefined ? undefined : parseStaticPeer(options.pair);
    // A returning partner is linked again at the next retry: a pair retries every handshakeRetry
    // (a pong a second while it is away), not every 5 s, so catching up starts within a second or two.
    const retry = pair ? { staticRetry: DEFAULT_TIMING.handshakeRetry } : {};
    const timing = { ...DEFAULT_TIMING, beaconInterval: (options.beaconInterval ?? 1) * 1000, ...retry, ...options.timing };
    if (pair?.endpoint === host.endpoint) throw new RangeError(`a nameserver cannot be its own pair partner (${host.endpoint})`);
    // The partner is linked like a static peer: no broadcast needs to reach it.
    const staticPeers = [...(options.peers ?? []).map(parseStaticPeer).filter((peer) => peer.endpoint !== pair?.endpoint), ...(pair ? [pair] : [])];
    const membership = new Membership({
      cluster: options.cluster,
      id,
      endpoint: host.endpoint,
      domain: [...broadcast].sort().join(","),
      ...(identity && { incarnation: identity.incarnation }),
      ...(host.keys && { key: host.keys.publicKey }),
      staticPeers,
      timing,
    });
    const warn = host.onWarning ?? ((message: string) => process.emitWarning(message, "PyroFederationWarning"));
    let federation: Federation | undefined;
    const beacons = await BeaconSocket.open({
      port: options.beaconPort ?? DEFAULT_BEACON_PORT,
      bindHost: host.bindHost,
      cluster: options.cluster,
      ownId: id,
      onBeacon: (beacon, from) => federation?.beaconHeard(beacon, from),
    });
    const refusedBy = new Set<string>();
    const links = new PeerLinks({
      transport: host.transport ?? {},
      ...(host.keys && { keys: host.keys }),
      // A message older than a probe period is stale: drop it rather than deliver it late.
      timeout: timing.probeInterval,
      onRefused: (endpoint: string, error: SecurityError) => {
        // Reported once per peer: a peer that does not admit our key refuses every message.
        if (refusedBy.has(endpoint)) return;
        refusedBy.add(endpoint);
        warn(`federation: the nameserver at ${endpoint} refused this nameserver's key: ${error.message}`);
      },
    });
    federation = new Federation(membership, beacons, links, host, broadcast, pair?.endpoint, warn);
    const self = federation;
    host.daemon.register(
      new PeerInbox({
        membership: (message) => self.#step((now) => membership.receive(now, message)),
        replica: (message) => self.#replicate((now) => self.#replication.receive(now, message)),
        pair: (request) => {
          if (self.#stopped) return refusal("not-member", "this nameserver is leaving");
          let answer = refusal("not-member", "not answered");
          self.#replicate((now) => (answer = self.#replication.request(now, request)));
          return answer;
        },
        refuse: (error) => {
          self.#refused++;
          if (self.#refused === 1 || self.#refused % 1000 === 0) warn(`federation: refused ${self.#refused} malformed peer message(s), the last: ${error instanceof Error ? error.message : String(error)}`);
        },
      }),
      FEDERATION_OBJECT_ID,
    );
    federation.#step((now) => membership.start(now));
    federation.#replicate((now) => self.#replication.tick(now));
    // The nameserver publishes its stored names as soon as this returns, in this same turn
    // (NameServer._federate): those are the restored ones a pair partner's handback may find stale.
    self.#replication.restoring();
    setImmediate(() => self.#replication.restored());
    return federation;
  }

  /** Our id in the cluster. */
  get id(): string {
    return this.#membership.self.id;
  }

  get cluster(): string {
    return this.#membership.cluster;
  }

  /** The UDP port beacons are heard on. */
  get beaconPort(): number {
    return this.#beacons.port;
  }

  /** The cluster's leader as this nameserver sees it: the lowest live id, ours included. */
  get leader(): string {
    return this.#replication.leader;
  }

  /**
   * @internal Runs a step of global discovery's bridge (src/global) on the replica's remote
   * origins, and sends what it asks; undefined once the federation has left.
   */
  bridge<T>(step: (remote: RemoteOrigins, now: number) => T): T | undefined {
    if (this.#stopped) return undefined;
    const now = Date.now();
    const result = this.#replication.bridge((remote) => step(remote, now));
    this.#arm();
    return result;
  }

  /** The heartbeat table, ourselves first. */
  peers(): PeerInfo[] {
    return this.#membership.peers();
  }

  /** The cluster's names as this nameserver holds them: publish our own, look up everyone's. */
  get names(): ReplicatedNames {
    return this.#replication;
  }

  get stats(): FederationStats {
    return { beacon: this.#beacons.stats, refusedMessages: this.#refused, lostMessages: this.#links.lost, links: this.#links.size, replication: this.#replication.stats };
  }

  /** Leaves gracefully: members are told at once and a leaving beacon goes out; then closes. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#step(() => this.#membership.leave());
      this.#stopped = true;
      this.#replication.stop();
      clearTimeout(this.#timer);
      await this.#links.flush(LEAVE_FLUSH_MS);
      this.#host.daemon.unregister(FEDERATION_OBJECT_ID);
      await Promise.all([this.#beacons.close(), this.#links.close()]);
    })();
    return this.#closing;
  }

  /** @internal A beacon of our cluster from another nameserver, as the beacon socket read it. */
  beaconHeard(beacon: Beacon, from: string): void {
    const heard = { id: beacon.id, endpoint: `${from}:${beacon.port}`, incarnation: beacon.incarnation, leaving: beacon.port === 0, ...(beacon.key && { key: beacon.key }) };
    this.#step((now) => this.#membership.beaconHeard(now, heard));
  }

  /** Runs one step of the membership machine and carries out what it asks; its events also drive the replica. */
  #step(step: (now: number) => MembershipOutput): void {
    if (this.#stopped) return;
    const now = Date.now();
    const output = step(now);
    for (const { to, message } of output.sends) this.#links.send(to, message);
    if (output.beacon) this.#sendBeacon(output.beacon.leaving);
    for (const change of output.events) {
      this.peerChanged.emit(change);
      this.#replication.memberChanged(now, change);
    }
    this.#arm();
  }

  /** Runs one step of the replica (the driver carries out its sends and events). */
  #replicate(step: (now: number) => void): void {
    if (this.#stopped) return;
    step(Date.now());
    this.#arm();
  }

  #sendBeacon(leaving: boolean): void {
    const self = this.#membership.self;
    const port = Number(self.endpoint.slice(self.endpoint.lastIndexOf(":") + 1));
    this.#beacons.send({ cluster: this.#membership.cluster, id: self.id, port: leaving ? 0 : port, incarnation: self.incarnation, digest: 0, ...(self.key && { key: self.key }) }, this.#broadcast);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const deadline = Math.min(this.#membership.nextDeadline(), this.#replication.nextDeadline());
    const delay = Math.max(0, Math.min(deadline - Date.now(), 1000));
    // Unref'd: the nameserver's daemon keeps the process alive, not this timer.
    this.#timer = setTimeout(() => {
      this.#step((now) => this.#membership.tick(now));
      this.#replicate((now) => this.#replication.tick(now));
    }, delay).unref();
  }
}
