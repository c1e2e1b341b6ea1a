/**
 * Names a daemon keeps in Python Pyro5 nameservers (`register(obj, { name, pyro5Ns })`): each
 * points at the object's Pyro5 URI, is registered once the daemon serves Pyro5 clients, and is
 * removed when the object is unregistered or the daemon closes. A Pyro5 nameserver has no
 * leases: a daemon killed outright leaves its names behind, as a Python daemon would.
 */
import { parseHostPort } from "../names.js";
import { locateNs } from "../pyro5/client/locate.js";
import type { Pyro5NameServer } from "../pyro5/client/pyro5-nameserver.js";

interface Pyro5Name {
  readonly name: string;
  readonly objectId: string;
  readonly ns: string;
  readonly metadata: readonly string[];
  registered: boolean;
  /** The registration under way, which a removal waits for. */
  pending?: Promise<void>;
}

export class Pyro5Names {
  readonly #names = new Map<string, Pyro5Name>();
  readonly #uriFor: (objectId: string) => string;
  readonly #report: (error: unknown, context: string) => void;
  #running = false;

  constructor(uriFor: (objectId: string) => string, report: (error: unknown, context: string) => void) {
    this.#uriFor = uriFor;
    this.#report = report;
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Keeps `name` for `objectId` in the nameserver at `ns` (host:port); registered at once when running. */
  add(name: string, objectId: string, ns: string, metadata: readonly string[]): void {
    parseHostPort(ns);
    const entry = { name, objectId, ns, metadata, registered: false };
    this.#names.set(name, entry);
    if (this.#running) void this.#register(entry);
  }

  /** Registers every name kept (the daemon serves Pyro5 clients now). */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.all([...this.#names.values()].map((entry) => this.#register(entry)));
  }

  /** Removes the names of an object that was unregistered. */
  async removeObject(objectId: string): Promise<void> {
    const gone = [...this.#names.values()].filter((entry) => entry.objectId === objectId);
    for (const entry of gone) this.#names.delete(entry.name);
    await Promise.all(gone.map((entry) => this.#remove(entry)));
  }

  /** Removes every name registered: the daemon is closing. */
  async close(): Promise<void> {
    this.#running = false;
    const all = [...this.#names.values()];
    this.#names.clear();
    await Promise.all(all.map((entry) => this.#remove(entry)));
  }

  #register(entry: Pyro5Name): Promise<void> {
    entry.pending = this.#registering(entry);
    return entry.pending;
  }

  async #registering(entry: Pyro5Name): Promise<void> {
    try {
      await withNs(entry.ns, (ns) => ns.register(entry.name, this.#uriFor(entry.objectId), { metadata: entry.metadata }));
      entry.registered = true;
    } catch (error) {
      this.#report(error, `registering ${entry.name} in the Pyro5 nameserver at ${entry.ns} failed`);
    }
  }

  async #remove(entry: Pyro5Name): Promise<void> {
    await entry.pending;
    if (!entry.registered) return;
    try {
      await withNs(entry.ns, (ns) => ns.remove(entry.name));
    } catch (error) {
      this.#report(error, `removing ${entry.name} from the Pyro5 nameserver at ${entry.ns} failed`);
    }
  }
}

/** One short connection per change: registrations are rare, and a nameserver may restart between them. */
async function withNs<R>(address: string, use: (ns: Pyro5NameServer) => Promise<R>): Promise<R> {
  const { host, port } = parseHostPort(address);
  const ns = await locateNs({ host, port, timeout: 5000 });
  try {
    return await use(ns);
  } finally {
    await ns.close();
  }
}
