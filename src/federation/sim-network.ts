/**
 * The simulated network of the federation simulator: per-message delay, loss, partitions,
 * and what each message or beacon costs on the wire.
 */
import { encodeBeacon } from "./beacon-frame.js";

/**
 * Bytes a peer message costs beyond its JSON body. A real one travels as a ZeroMQ
 * multipart message over TCP: IPv4 + TCP headers with timestamps (52), ZMTP frame headers
 * of the envelope and body (about 4), the driver's envelope frame (about 20), rounded up
 * to 80. The TCP acks the receiver sends back are not counted.
 */
export const MESSAGE_OVERHEAD = 80;

/** Bytes a beacon costs beyond its frame: IPv4 (20) and UDP (8) headers. */
export const BEACON_OVERHEAD = 28;

/** What a peer message costs on the wire, for its JSON body. */
export function messageBytes(json: string): number {
  return Buffer.byteLength(json) + MESSAGE_OVERHEAD;
}

/** What a beacon costs on the wire: its real frame (34 bytes + cluster name + key) plus UDP/IP headers. */
export function beaconBytes(cluster: string, id: string, key?: string): number {
  return encodeBeacon({ cluster, id, port: 1, incarnation: 0, digest: 0, ...(key && { key }) }).length + BEACON_OVERHEAD;
}

/** How the simulated network behaves; every field may be changed while a simulation runs. */
export interface NetworkConditions {
  /** One-way delay of each message and beacon, uniform in [delayMin, delayMax] ms. */
  delayMin: number;
  delayMax: number;
  /** Probability that a message, or a beacon at one receiver, is lost. */
  loss: number;
}

/** Delay, loss and partitions between simulated nodes (known by their index). */
export class SimNetwork {
  readonly conditions: NetworkConditions;
  readonly #random: () => number;
  /** Node index → partition group; absent means group 0. */
  #groups = new Map<number, number>();

  constructor(conditions: NetworkConditions, random: () => number) {
    this.conditions = conditions;
    this.#random = random;
  }

  /** The delay of one message. */
  delay(): number {
    const { delayMin, delayMax } = this.conditions;
    return delayMin + (delayMax - delayMin) * this.#random();
  }

  /** Whether one message is lost. */
  lost(): boolean {
    return this.conditions.loss > 0 && this.#random() < this.conditions.loss;
  }

  /** Whether `a` and `b` are in the same partition group. */
  reachable(a: number, b: number): boolean {
    return (this.#groups.get(a) ?? 0) === (this.#groups.get(b) ?? 0);
  }

  /** Splits the nodes into groups that cannot reach each other; nodes not listed join the first. */
  partition(groups: readonly (readonly number[])[]): void {
    this.#groups = new Map();
    groups.forEach((members, group) => {
      for (const node of members) this.#groups.set(node, group);
    });
  }

  /** Ends every partition. */
  heal(): void {
    this.#groups = new Map();
  }

  get partitioned(): boolean {
    return this.#groups.size > 0;
  }
}
