import type { Remote } from "../proxy/remote.js";
import { locateNs, type LocateOptions } from "./locate.js";
import { validateName, validateTags } from "../names.js";
import type { NameServer } from "./nameserver.js";
import type { SignalGap } from "../proxy/subscriptions.js";

const CLOSE_TIMEOUT_MS = 2000;

interface Kept {
  readonly uri: string;
  readonly metadata: string[];
}

/**
 * The names a daemon keeps in the nameserver: registered when the daemon starts (or at
 * once if it runs), removed when it closes, and registered again by themselves when the
 * nameserver comes back after a restart (it may have lost them with memory storage).
 */
export class NameKeeper {
  readonly #options: LocateOptions;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #names = new Map<string, Kept>();
  #ns: Remote<NameServer> | undefined;
  #state: "idle" | "running" | "closed" = "idle";
  #starting: Promise<void> | undefined;

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
    // State may have changed while awaiting: the daemon closed while we looked for the nameserver.
    if (this.#closed()) {
      await ns.$close();
      return;
    }
    this.#ns = ns;
    this.#state = "running";
    try {
      await this.#registerAll();
      // The subscription doubles as a restart detector: it is renewed after a reconnect,
      // and the gap it reports is our cue to register again.
      await ns.removed.connect(() => {});
      ns.removed.missed.connect((gap: SignalGap) => {
        if (gap.reason === "reconnect") this.#registerAll().catch((error: unknown) => this.#onError(error, "registering names again after the nameserver came back failed"));
      });
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Removes every name from the nameserver (best effort) and lets go of it. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    const ns = this.#ns;
    const wasRunning = this.#state === "running";
    this.#state = "closed";
    if (!ns) return;
    if (wasRunning) {
      // Bounded: a nameserver that is gone must not hold up the daemon's close.
      ns.$timeout = Math.min(ns.$timeout, CLOSE_TIMEOUT_MS);
      await Promise.all(
        [...this.#names].map(([name, { uri }]) => ns.remove(name, { ifUri: uri }).catch((error: unknown) => this.#onError(error, `removing ${name} from the nameserver failed`))),
      );
    }
    await ns.$close();
  }

  #closed(): boolean {
    return this.#state === "closed";
  }

  async #registerAll(): Promise<void> {
    for (const [name, { uri, metadata }] of this.#names) await this.#ns!.register(name, uri, { metadata });
  }
}
