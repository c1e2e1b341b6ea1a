/**
 * A Python Pyro5 nameserver behind pyro-ts's own nameserver API: option objects and camelCase
 * (`list({ prefix, returnMetadata })`, `setMetadata`) over Pyro5's positional, snake_case
 * methods. Metadata comes back sorted (Python keeps it in a set, in no stable order).
 */
import { NamingError } from "../../errors.js";
import type { Pyro5Remote } from "./pyro5-remote.js";

/** A name's URI with its metadata tags. */
export interface Pyro5NameEntry {
  readonly uri: string;
  readonly metadata: string[];
}

export interface Pyro5ListOptions {
  readonly prefix?: string;
  /** A Python regular expression, matched from the start of the name (re.match), by the nameserver. */
  readonly regex?: string;
  /** Only names carrying all these tags (Pyro5's yplookup meta_all). */
  readonly metadataAll?: readonly string[];
  /** Only names carrying at least one of these tags (yplookup meta_any). */
  readonly metadataAny?: readonly string[];
  /** Give `{ uri, metadata }` per name instead of the URI. */
  readonly returnMetadata?: boolean;
}

export type Pyro5RemoveQuery = { readonly prefix: string } | { readonly regex: string };

/** The Python NameServer's methods, as Pyro5 exposes them. */
export interface PythonNameServer {
  lookup(name: string, returnMetadata: boolean): unknown;
  register(name: string, uri: string, safe: boolean, metadata: readonly string[] | null): null;
  set_metadata(name: string, metadata: readonly string[]): null;
  remove(name: string | null, prefix: string | null, regex: string | null): number;
  list(prefix: string | null, regex: string | null, returnMetadata: boolean): Record<string, unknown>;
  yplookup(metaAll: readonly string[] | null, metaAny: readonly string[] | null, returnMetadata: boolean): Record<string, unknown>;
  count(): number;
  ping(): null;
}

function tags(value: unknown): string[] {
  const list = value instanceof Set ? [...value] : value;
  if (!Array.isArray(list)) throw new NamingError(`the nameserver sent metadata that is not a list: ${JSON.stringify(value)}`);
  return list.map(String).sort();
}

function entry(value: unknown): Pyro5NameEntry {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== "string") {
    throw new NamingError(`the nameserver sent an entry that is not [uri, metadata]: ${JSON.stringify(value)}`);
  }
  return { uri: value[0], metadata: tags(value[1]) };
}

function uriOf(value: unknown): string {
  if (typeof value !== "string") throw new NamingError(`the nameserver sent a URI that is not one: ${JSON.stringify(value)}`);
  return value;
}

function mapValues<V>(record: Record<string, unknown>, f: (value: unknown) => V): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [name, value] of Object.entries(record)) out[name] = f(value);
  return out;
}

export class Pyro5NameServer {
  readonly #proxy: Pyro5Remote<PythonNameServer>;

  constructor(proxy: Pyro5Remote<PythonNameServer>) {
    this.#proxy = proxy;
  }

  /** The nameserver's URI. */
  get uri(): string {
    return this.#proxy.$uri;
  }

  lookup(name: string): Promise<string>;
  lookup(name: string, options: { readonly returnMetadata: true }): Promise<Pyro5NameEntry>;
  async lookup(name: string, options: { readonly returnMetadata?: boolean } = {}): Promise<string | Pyro5NameEntry> {
    const found = await this.#proxy.lookup(name, options.returnMetadata === true);
    return options.returnMetadata ? entry(found) : uriOf(found);
  }

  list(options?: Pyro5ListOptions & { readonly returnMetadata?: false }): Promise<Record<string, string>>;
  list(options: Pyro5ListOptions & { readonly returnMetadata: true }): Promise<Record<string, Pyro5NameEntry>>;
  async list(options: Pyro5ListOptions = {}): Promise<Record<string, string> | Record<string, Pyro5NameEntry>> {
    const { prefix, regex, metadataAll, metadataAny, returnMetadata = false } = options;
    if (prefix !== undefined && regex !== undefined) throw new NamingError("list takes a prefix or a regex, not both");
    if (metadataAll === undefined && metadataAny === undefined) {
      const names = await this.#proxy.list(prefix ?? null, regex ?? null, returnMetadata);
      return returnMetadata ? mapValues(names, entry) : mapValues(names, uriOf);
    }
    // Pyro5 filters by tags only in yplookup: the name filters are applied here then.
    if (regex !== undefined) throw new NamingError("a Pyro5 nameserver cannot filter by regex and metadata together: give a prefix instead");
    const found = await this.yplookup({ metaAll: metadataAll, metaAny: metadataAny, returnMetadata: true });
    const kept = Object.fromEntries(Object.entries(found).filter(([name]) => prefix === undefined || name.startsWith(prefix)));
    return returnMetadata ? kept : mapValues(kept, (e) => (e as Pyro5NameEntry).uri);
  }

  /** Names carrying all of `metaAll` or any of `metaAny` (one of them, as Pyro5 wants). */
  async yplookup(options: { readonly metaAll?: readonly string[]; readonly metaAny?: readonly string[]; readonly returnMetadata?: boolean }): Promise<Record<string, Pyro5NameEntry>> {
    const found = await this.#proxy.yplookup(options.metaAll ?? null, options.metaAny ?? null, true);
    return mapValues(found, entry);
  }

  /** Registers `name` → `uri` (a PYRO: URI of a Pyro5 daemon); `safe` refuses a name taken. Returns the name. */
  async register(name: string, uri: string, options: { readonly safe?: boolean; readonly metadata?: readonly string[] } = {}): Promise<string> {
    await this.#proxy.register(name, uri, options.safe === true, options.metadata ?? null);
    return name;
  }

  /** Removes a name, or every name matching a prefix or regex; resolves with how many went. */
  remove(target: string | Pyro5RemoveQuery): Promise<number> {
    if (typeof target === "string") return this.#proxy.remove(target, null, null);
    if ("prefix" in target) return this.#proxy.remove(null, target.prefix, null);
    return this.#proxy.remove(null, null, target.regex);
  }

  async setMetadata(name: string, metadata: readonly string[]): Promise<void> {
    await this.#proxy.set_metadata(name, metadata);
  }

  count(): Promise<number> {
    return this.#proxy.count();
  }

  async ping(): Promise<void> {
    await this.#proxy.ping();
  }

  close(): Promise<void> {
    return this.#proxy.$close();
  }
}
