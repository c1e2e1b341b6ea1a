import { SecurityError } from "../errors.js";
import { RunningCount } from "../running-count.js";
import { acquireChannel, releaseChannel } from "../proxy/channel-pool.js";
import type { Channel } from "../proxy/channel.js";
import { generateKeyPair, type CurveKeyPair } from "../transport/curve.js";
import { resolveTransportOptions, type TransportOptions } from "../transport/options.js";
import { FEDERATION_OBJECT_ID } from "./peer-inbox.js";
import type { PairRequest } from "./pair-message.js";
import type { PeerMessage } from "./peer-message.js";
import type { ReplicaMessage } from "./replica-message.js";

/** How long an idle link is kept before its connection is closed. */
const IDLE_MS = 30_000;
/** Most links open at once (ZeroMQ allows 1,023 sockets per process); beyond, the least recently used is closed. */
export const MAX_LINKS = 256;

interface Link {
  readonly channel: Channel;
  lastUse: number;
}

/** Where and how to reach a peer: `host:port`, and its CURVE key when it encrypts. */
export interface PeerAddress {
  readonly endpoint: string;
  readonly key?: string;
}

/**
 * Outgoing peer links: one ZeroMQ connection per peer nameserver, carrying oneway
 * deliveries (membership and replication messages alike) to its inbox. Sending never
 * throws and never waits: a message the peer does not get is lost, as a datagram would
 * be, and the protocols' probes, retries and anti-entropy cover it.
 */
export class PeerLinks {
  readonly #links = new Map<string, Link>();
  readonly #transport: TransportOptions;
  #keys: CurveKeyPair | undefined;
  /** How long a message may wait for a connection before it is dropped (ms). */
  readonly #timeout: number;
  readonly #onRefused: (endpoint: string, error: SecurityError) => void;
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;
  /** Messages handed to a channel and not yet sent or failed, for flush(). */
  readonly #sending = new RunningCount();
  /** Messages that could not be delivered (no connection in time, or refused). */
  lost = 0;

  constructor(options: { transport: TransportOptions; keys?: CurveKeyPair; timeout: number; onRefused: (endpoint: string, error: SecurityError) => void }) {
    this.#transport = options.transport;
    this.#keys = options.keys;
    this.#timeout = options.timeout;
    this.#onRefused = options.onRefused;
    this.#sweeper = setInterval(() => this.#closeIdle(), IDLE_MS / 2).unref();
  }

  send(to: PeerAddress, message: PeerMessage | ReplicaMessage): void {
    if (this.#closed) return;
    let link: Link;
    try {
      link = this.#link(to);
    } catch {
      // No socket to be had (the process is out of them): the message is lost, like any other.
      this.lost++;
      return;
    }
    link.lastUse = Date.now();
    this.#sending.begin();
    void link.channel.invoke(FEDERATION_OBJECT_ID, "deliver", [message], this.#timeout, true).then(
      () => {},
      (error: unknown) => {
        this.lost++;
        if (error instanceof SecurityError) this.#onRefused(to.endpoint, error);
      },
    ).finally(() => this.#sending.end());
  }

  /**
   * Sends a pair request to a peer's inbox and resolves with its answer (unvalidated);
   * rejects when it cannot be sent or is not answered within `timeoutMs`.
   */
  request(to: PeerAddress, message: PairRequest, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("peer links are closed"));
    let link: Link;
    try {
      link = this.#link(to);
    } catch (error) {
      return Promise.reject(error);
    }
    link.lastUse = Date.now();
    return link.channel.invoke(FEDERATION_OBJECT_ID, "request", [message], timeoutMs).catch((error: unknown) => {
      if (error instanceof SecurityError) this.#onRefused(to.endpoint, error);
      throw error;
    });
  }

  /** Waits (at most `ms`) until every message sent has left or failed (none is being sent). */
  flush(ms: number): Promise<void> {
    return this.#sending.none(ms);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const links = [...this.#links.values()];
    this.#links.clear();
    await Promise.all(links.map((link) => releaseChannel(link.channel)));
  }

  #link(to: PeerAddress): Link {
    const id = `${to.endpoint} ${to.key ?? ""}`;
    let link = this.#links.get(id);
    if (!link || link.channel.closed) {
      // A peer that encrypts is sent our nameserver's own key, which its authorized folder may admit
      // (a plain nameserver has none: a fresh pair will do for a peer that admits any client).
      this.#keys ??= to.key ? generateKeyPair() : undefined;
      const curve = to.key ? { serverKey: to.key, keys: this.#keys! } : undefined;
      if (this.#links.size >= MAX_LINKS) this.#closeLeastRecent();
      link = { channel: acquireChannel(`tcp://${to.endpoint}`, resolveTransportOptions(this.#transport), { curve }), lastUse: Date.now() };
    }
    // Kept in order of use: the first entry is the least recently used.
    this.#links.delete(id);
    this.#links.set(id, link);
    return link;
  }

  get size(): number {
    return this.#links.size;
  }

  #closeLeastRecent(): void {
    const [id, link] = this.#links.entries().next().value!;
    this.#links.delete(id);
    void releaseChannel(link.channel);
  }

  #closeIdle(): void {
    const now = Date.now();
    for (const [id, link] of this.#links) {
      if (now - link.lastUse < IDLE_MS) continue;
      this.#links.delete(id);
      void releaseChannel(link.channel);
    }
  }
}
