import { SecurityError } from "../errors.js";
import { Channel } from "../proxy/channel.js";
import { generateKeyPair, type CurveKeyPair } from "../transport/curve.js";
import { DAEMON_OBJECT_ID } from "../protocol/metadata.js";
import { resolveTransportOptions } from "../transport/options.js";
import { endpointOf, parseUri } from "../uri.js";
import type { TransportKind } from "../transport/transport.js";
import { NAMESERVER_NAME } from "../names.js";
import type { NameServer } from "./nameserver.js";

/** The longest period a Node timer can wait (2^31-1 ms), in seconds. */
export const MAX_AUTOCLEAN_SECONDS = 2_147_483;

interface Checked {
  readonly name: string;
  readonly objectId: string;
  readonly uri: string;
}

export interface AutocleanOptions {
  /** Seconds between sweeps (>= 1). */
  readonly interval: number;
  /** A name unreachable for longer than this (ms) is removed. Default: 2 sweeps. */
  readonly grace?: number;
  /** How long one daemon may take to answer (ms). Default 2000. */
  readonly timeout?: number;
  /** Daemons checked at once. Default 32. */
  readonly concurrency?: number;
  /** Key pair for encrypting daemons; a fresh one when absent (enough to learn they are up). */
  readonly clientKeys?: CurveKeyPair;
}

/**
 * Removes names whose object is gone. Unlike Pyro, which only checks that the port
 * accepts a TCP connection, it asks each daemon (once per daemon, whatever the number of
 * names on it) which objects it serves, so an object unregistered from a live daemon goes
 * too. Sweeps run in the background and never block lookups; dead hosts cost at most
 * `timeout` each, `concurrency` at a time.
 */
export class Autocleaner {
  readonly #nameserver: NameServer;
  readonly #interval: number;
  readonly #grace: number;
  readonly #timeout: number;
  readonly #concurrency: number;
  /** The key pair to present to encrypting daemons (the nameserver's own, when it has one). */
  readonly #clientKeys: CurveKeyPair | undefined;
  /** When each name was first found unreachable. */
  readonly #failingSince = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;
  #stopped = false;

  constructor(nameserver: NameServer, options: AutocleanOptions) {
    if (!(options.interval >= 1 && options.interval <= MAX_AUTOCLEAN_SECONDS)) {
      throw new RangeError(`autoclean interval must be from 1 to ${MAX_AUTOCLEAN_SECONDS} seconds, got ${options.interval}`);
    }
    this.#nameserver = nameserver;
    this.#interval = options.interval * 1000;
    this.#grace = Math.min(options.grace ?? 2 * this.#interval, 2 * MAX_AUTOCLEAN_SECONDS * 1000);
    this.#timeout = options.timeout ?? 2000;
    this.#concurrency = options.concurrency ?? 32;
    this.#clientKeys = options.clientKeys;
  }

  start(): void {
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#sweeping;
  }

  /** One sweep over every registration; resolves when done. */
  async sweep(): Promise<void> {
    const byDaemon = new Map<string, Checked[]>();
    // Our own registrations only: a federated nameserver's peers check theirs.
    const registered = Object.entries(this.#nameserver._ownNames());
    for (const [name, uri] of registered) {
      if (name === NAMESERVER_NAME) continue;
      const parsed = parseUri(uri);
      // One check per daemon: its transport, endpoint, and its CURVE key or TLS fingerprint when it encrypts.
      const daemon = `${parsed.transport ?? "zmq"} ${endpointOf(parsed.location!)} ${parsed.key ?? parsed.tls ?? ""}`;
      let names = byDaemon.get(daemon);
      if (!names) byDaemon.set(daemon, (names = []));
      names.push({ objectId: parsed.object, name, uri });
    }
    const queue = [...byDaemon];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && !this.#stopped; next = queue.shift()) {
        const [daemon, names] = next;
        const [transport, endpoint, key] = daemon.split(" ") as [TransportKind, string, string];
        const served = await this.#servedBy(transport, endpoint, key || undefined);
        if (served !== "alive") this.#record(names, served);
        else for (const { name } of names) this.#failingSince.delete(name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
    // Forget names that are no longer registered at all.
    const names = new Set(registered.map(([name]) => name));
    for (const name of this.#failingSince.keys()) if (!names.has(name)) this.#failingSince.delete(name);
  }

  /**
   * Object ids a daemon serves, undefined when it does not answer, or "alive" when it
   * answers but refuses to tell us (an encrypting daemon that does not admit our key).
   */
  async #servedBy(transport: TransportKind, endpoint: string, serverKey: string | undefined): Promise<Set<string> | undefined | "alive"> {
    // serverKey: the daemon's CURVE key (ZeroMQ) or TLS fingerprint (TCP), from its URI.
    const security = transport === "tcp"
      ? { ...(serverKey && { tls: { fingerprint: serverKey } }) }
      : { ...(serverKey && { curve: { serverKey, keys: this.#keys() } }) };
    const channel = new Channel(endpoint, resolveTransportOptions({}), security, transport);
    try {
      const ids = await channel.invoke(DAEMON_OBJECT_ID, "registered", [], this.#timeout);
      return Array.isArray(ids) ? new Set(ids.filter((id): id is string => typeof id === "string")) : undefined;
    } catch (error) {
      return error instanceof SecurityError ? "alive" : undefined;
    } finally {
      await channel.close();
    }
  }

  #ownKeys: CurveKeyPair | undefined;
  #keys(): CurveKeyPair {
    return (this.#ownKeys ??= this.#clientKeys ?? generateKeyPair());
  }

  #record(checked: readonly Checked[], served: Set<string> | undefined): void {
    const now = Date.now();
    for (const { name, objectId, uri } of checked) {
      if (served?.has(objectId)) {
        this.#failingSince.delete(name);
        continue;
      }
      const since = this.#failingSince.get(name) ?? now;
      this.#failingSince.set(name, since);
      if (now - since < this.#grace) continue;
      this.#failingSince.delete(name);
      // Only if nobody re-registered the name meanwhile; remove() announces it (and publishes it, federated).
      this.#nameserver.remove(name, { ifUri: uri });
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#sweeping = this.sweep()
        .catch((error: unknown) => process.emitWarning(`autoclean sweep failed: ${String(error)}`, "PyroNamingWarning"))
        .finally(() => {
          this.#sweeping = undefined;
          this.#schedule();
        });
    }, this.#interval);
    this.#timer.unref();
  }
}
