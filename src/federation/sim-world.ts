import { SimNetwork, type NetworkConditions } from "./sim-network.js";
import { EventQueue } from "./sim-queue.js";

/** The network a simulation starts with: LAN-like delays, no loss. */
export const DEFAULT_NETWORK: NetworkConditions = { delayMin: 0.5, delayMax: 5, loss: 0 };

/**
 * What every simulator runs on: a virtual clock with its event queue, a simulated network
 * (delay, loss, partitions), and traffic counted per message kind. The membership and the
 * replication simulators each add their nodes on top.
 */
export class SimWorld {
  readonly network: SimNetwork;
  protected readonly queue = new EventQueue();
  readonly #traffic = new Map<string, { messages: number; bytes: number }>();
  readonly #random: () => number;

  constructor(network: Partial<NetworkConditions> | undefined, random: () => number) {
    this.network = new SimNetwork({ ...DEFAULT_NETWORK, ...network }, random);
    this.#random = random;
  }

  /** Virtual time, ms. */
  get now(): number {
    return this.queue.now;
  }

  /** Groups of nodes that cannot reach each other (nodes not listed join the first group). */
  partition(groups: readonly (readonly { readonly index: number }[])[]): void {
    this.network.partition(groups.map((group) => group.map((node) => node.index)));
  }

  heal(): void {
    this.network.heal();
  }

  /** Runs `action` at virtual time `at`. */
  at(at: number, action: () => void): void {
    this.queue.schedule(at, action);
  }

  /** Advances the clock by `ms`. */
  run(ms: number): void {
    this.queue.runUntil(this.now + ms);
  }

  /**
   * Advances the clock to `time`, or until `done` (checked after every event) is true.
   * Returns whether `done` was reached.
   */
  runUntil(time: number, done?: () => boolean): boolean {
    if (done?.()) return true;
    return this.queue.runUntil(time, done);
  }

  /** Messages and bytes sent so far by every node, per message kind. */
  traffic(): Record<string, { messages: number; bytes: number }> {
    return Object.fromEntries([...this.#traffic].map(([kind, t]) => [kind, { ...t }]));
  }

  /** A nameserver id (32 hex digits) from the seeded generator, not yet `taken`. */
  protected newId(taken: (id: string) => boolean): string {
    let id = "";
    for (let i = 0; i < 4; i++) id += Math.floor(this.#random() * 0x1_0000_0000).toString(16).padStart(8, "0");
    return taken(id) ? this.newId(taken) : id;
  }

  /** Counts one message sent. */
  protected count(kind: string, bytes: number): void {
    const entry = this.#traffic.get(kind);
    if (entry) {
      entry.messages++;
      entry.bytes += bytes;
    } else this.#traffic.set(kind, { messages: 1, bytes });
  }
}
