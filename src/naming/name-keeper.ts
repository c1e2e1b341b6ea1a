import type { Remote } from "../proxy/remote.js";
import { isLocalHost, locateNs, nsAddresses, type LocateOptions } from "./locate.js";
import { parseHostPort, validateName, validateTags } from "../names.js";
import type { NameServer } from "./nameserver.js";
import type { SignalGap } from "../proxy/subscriptions.js";
import { parseUri } from "../uri.js";
import { HostGuard } from "./host/host-guard.js";

const CLOSE_TIMEOUT_MS = 2000;
/** Retries to find a nameserver after losing one: soon (a respawn takes about a second), then less often. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2000;
/** How often a keeper on a fallback nameserver asks whether a preferred one is back. */
const PREFERENCE_CHECK_MS = 2000;

interface Kept {
  readonly uri: string;
  readonly metadata: string[];
}

/**
 * The names a daemon keeps in the nameserver: registered when the daemon starts (or at
 * once if it runs), removed when it closes. When its nameserver is lost, it finds the next
 * one that answers among those given (the same one, once restarted or respawned) and
 * registers every name there; on a fallback, it moves back to a preferred one when that
 * answers again. On this host, it also takes its turn to respawn a dead nameserver.
 */
export class NameKeeper {
  readonly #options: LocateOptions;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #names = new Map<string, Kept>();
  #ns: Remote<NameServer> | undefined;
  #guard: HostGuard | undefined;
  #state: "idle" | "running" | "recovering" | "closed" = "idle";
  #starting: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LocateOptions, onError: (error: unknown, context: string) => void) {
    this.#options = options;
    this.#onError = onError;
  }

  /** Checks a name before the daemon registers the object under it. */
  validate(name: string, metadata: readonly string[] | undefined): string[] {
    validateName(name);
    return validateTags(metadata);
  }

  async add(name: string, uri: string, metadata: string[]): Promise<void> {
    this.#names.set(name, { uri, metadata });
    if (this.#state === "running") await this.#ns!.register(name, uri, { metadata });
  }

  async remove(name: string): Promise<void> {
    const kept = this.#names.get(name);
    if (!kept || !this.#names.delete(name) || this.#state !== "running") return;
    await this.#ns!.remove(name, { ifUri: kept.uri });
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Finds the nameserver and registers every name; concurrent calls share one start. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#state !== "idle") return;
    const ns = await locateNs(this.#options);
    try {
      await this.#attach(ns);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Makes `ns` the keeper's nameserver: every name registered there, its loss watched. */
  async #attach(ns: Remote<NameServer>): Promise<void> {
    // State may have changed while awaiting: the daemon closed while we looked for the nameserver.
    if (this.#state === "closed") {
      await ns.$close();
      return;
    }
    this.#ns = ns;
    this.#state = "running";
    ns.$connectionChanged.connect((connected) => {
      if (!connected && this.#ns === ns) this.#lost();
    });
    await this.#registerAll(ns);
    // The subscription doubles as a restart detector: it is renewed after a reconnect,
    // and the gap it reports is our cue to register again.
    await ns.removed.connect(() => {});
    ns.removed.missed.connect((gap: SignalGap) => {
      if (gap.reason === "reconnect" && this.#ns === ns) this.#registerAll(ns).catch((error: unknown) => this.#onError(error, "registering names again after the nameserver came back failed"));
    });
    const guard = await this.#joinHost(ns);
    // Closed, lost or moved on while joining: this nameserver is no longer ours to guard.
    if (this.#ns !== ns) {
      await guard?.close();
      return;
    }
    await this.#guard?.close();
    this.#guard = guard;
    this.#schedulePreferenceCheck(ns);
  }

  /** Takes a rank among the processes of this host that keep names, when the nameserver runs here. */
  async #joinHost(ns: Remote<NameServer>): Promise<HostGuard | undefined> {
    const location = parseUri(ns.$uri).location;
    if (location?.transport !== "tcp" || !isLocalHost(location.host)) return undefined;
    try {
      return await HostGuard.join(ns.$uri, this.#options, { onDeath: () => this.#lost(), onError: this.#onError });
    } catch (error) {
      // The names are kept all the same; only the respawn duty is missing.
      this.#onError(error, "joining the respawn order of this host's nameserver failed");
      return undefined;
    }
  }

  /** The nameserver is gone: look for one (itself back, or the next), until found or closed. */
  #lost(): void {
    if (this.#state !== "running") return;
    this.#state = "recovering";
    const lost = this.#ns!;
    this.#ns = undefined;
    clearTimeout(this.#timer);
    lost.$close().catch(() => {});
    this.#retry(RETRY_FIRST_MS);
  }

  #retry(delay: number): void {
    this.#timer = setTimeout(() => {
      // Never autostart here: a crashed nameserver is respawned by its rank, a stopped one stays stopped.
      locateNs({ ...this.#options, autostart: false }).then(
        (ns) => this.#attach(ns).catch((error: unknown) => {
          this.#onError(error, "registering names on the nameserver found after a failure failed");
          if (this.#ns === ns) this.#lost();
        }),
        () => {
          if (this.#state === "recovering") this.#retry(Math.min(delay * 2, RETRY_MAX_MS));
        },
      );
    }, delay);
  }

  /** On a fallback nameserver, looks now and then for a preferred one, and moves there when it answers. */
  #schedulePreferenceCheck(current: Remote<NameServer>): void {
    const addresses = nsAddresses(this.#options);
    const at = indexOfNs(addresses, current.$uri);
    if (at <= 0) return;
    this.#timer = setTimeout(() => {
      if (this.#ns !== current) return;
      locateNs({ ...this.#options, ns: addresses.slice(0, at) }).then(
        (preferred) => this.#move(current, preferred),
        () => {
          if (this.#ns === current) this.#schedulePreferenceCheck(current);
        },
      );
    }, PREFERENCE_CHECK_MS);
  }

  async #move(from: Remote<NameServer>, to: Remote<NameServer>): Promise<void> {
    if (this.#ns !== from) {
      await to.$close();
      return;
    }
    try {
      await this.#attach(to);
    } catch (error) {
      this.#onError(error, "moving names to the preferred nameserver failed");
      if (this.#ns === to) this.#lost();
      return;
    }
    // Registered on the preferred one first, so the names are never missing.
    await this.#removeAll(from);
    await from.$close();
  }

  /** Removes every name from the nameserver (best effort) and lets go of it. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    const ns = this.#ns;
    const wasRunning = this.#state === "running";
    this.#state = "closed";
    this.#ns = undefined;
    clearTimeout(this.#timer);
    await this.#guard?.close();
    if (!ns) return;
    if (wasRunning) await this.#removeAll(ns);
    await ns.$close();
  }

  /** Bounded: a nameserver that is gone must not hold up the daemon's close. */
  async #removeAll(ns: Remote<NameServer>): Promise<void> {
    ns.$timeout = Math.min(ns.$timeout, CLOSE_TIMEOUT_MS);
    await Promise.all(
      [...this.#names].map(([name, { uri }]) => ns.remove(name, { ifUri: uri }).catch((error: unknown) => this.#onError(error, `removing ${name} from the nameserver failed`))),
    );
  }

  async #registerAll(ns: Remote<NameServer>): Promise<void> {
    for (const [name, { uri, metadata }] of this.#names) await ns.register(name, uri, { metadata });
  }
}

/** Where `uri`'s nameserver stands among `addresses` (-1: not among them). */
function indexOfNs(addresses: readonly string[], uri: string): number {
  const location = parseUri(uri).location;
  if (location?.transport !== "tcp") return -1;
  return addresses.findIndex((address) => {
    const { host, port } = parseHostPort(address);
    return host === location.host && port === location.port;
  });
}
