import { compareClaims, formatQualified, MIN_QUALIFIER_DIGITS, parseQualified, type NameRecord } from "./name-record.js";
import type { ReplicaStore } from "./replica-store.js";

/**
 * What changed in the naming view, as every nameserver's signals report it. Each comes
 * from a change of a name's visible winner: a loser changing shows nothing.
 */
export type NameEvent =
  | { readonly kind: "registered"; readonly name: string; readonly uri: string; readonly metadata: readonly string[]; readonly origin: string }
  | { readonly kind: "removed"; readonly name: string; readonly uri: string; readonly origin: string }
  | { readonly kind: "metadataChanged"; readonly name: string; readonly metadata: readonly string[]; readonly origin: string }
  /** `loser` now claims `name` too and loses it to `winner` (both origins): its registrar should hear of it. */
  | { readonly kind: "conflict"; readonly name: string; readonly winner: string; readonly loser: string };

/** The claims to one name among visible origins: the winner, then the losers in order. */
export interface Standing {
  readonly winner: NameRecord | undefined;
  readonly losers: readonly NameRecord[];
}

/** A name claimed by more than one visible origin for different URIs: who wins it, and who loses (in claim order). */
export interface Conflict {
  readonly name: string;
  readonly winner: NameRecord;
  readonly losers: readonly NameRecord[];
}

const NONE: Standing = { winner: undefined, losers: [] };
const byName = (a: { readonly name: string }, b: { readonly name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

/** Whether a loser claims its name for another URI than the winner: two claims of one URI are one object, not a conflict. */
function contests(winner: NameRecord, loser: NameRecord): boolean {
  return loser.uri !== winner.uri;
}

/**
 * The naming view over a store: which record of each name is visible (the earliest claim
 * among live records that show: of visible origins, and not shadowed by a pair's takeover),
 * and the events a step's changes make. Before changing a name, the replica touches it:
 * its standing then is kept, and `events()` compares each touched name's standing before
 * and after. A name whose winner moves to another origin with the same URI and tags
 * (a takeover, or the same daemon registered on two nameservers) changes nothing a client
 * sees, so it makes no event.
 */
export class NameView {
  readonly #store: ReplicaStore;
  readonly #visible: (record: NameRecord) => boolean;
  readonly #before = new Map<string, Standing>();

  constructor(store: ReplicaStore, visible: (record: NameRecord) => boolean) {
    this.#store = store;
    this.#visible = visible;
  }

  standing(name: string): Standing {
    const live = this.#store.live(name);
    if (!live) return NONE;
    const claims: NameRecord[] = [];
    for (const record of live.values()) if (this.#visible(record)) claims.push(record);
    if (claims.length === 0) return NONE;
    claims.sort(compareClaims);
    return { winner: claims[0], losers: claims.slice(1) };
  }

  winner(name: string): NameRecord | undefined {
    const live = this.#store.live(name);
    if (!live) return undefined;
    let best: NameRecord | undefined;
    for (const record of live.values()) if (this.#visible(record) && (!best || compareClaims(record, best) < 0)) best = record;
    return best;
  }

  /** The visible record a qualified form names (winner or loser), if exactly one does. */
  lookupQualified(text: string): NameRecord | undefined {
    const parsed = parseQualified(text);
    if (!parsed) return undefined;
    const { winner, losers } = this.standing(parsed.name);
    const matches = [winner, ...losers].filter((r): r is NameRecord => r !== undefined && r.origin.startsWith(parsed.originPrefix));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** The shortest qualified form of a record that no other origin holding its name shares. */
  qualifiedName(record: NameRecord): string {
    const others = [...(this.#store.live(record.name)?.keys() ?? [])].filter((origin) => origin !== record.origin);
    let digits = MIN_QUALIFIER_DIGITS;
    while (digits < record.origin.length && others.some((origin) => origin.startsWith(record.origin.slice(0, digits)))) digits++;
    return formatQualified(record.name, record.origin, digits);
  }

  /** Every visible record, by name. */
  list(): NameRecord[] {
    const found: NameRecord[] = [];
    for (const name of this.#store.liveNames()) {
      const winner = this.winner(name);
      if (winner) found.push(winner);
    }
    return found.sort(byName);
  }

  count(): number {
    let n = 0;
    for (const name of this.#store.liveNames()) if (this.winner(name)) n++;
    return n;
  }

  /** Names claimed by more than one visible origin for different URIs, by name. */
  conflicts(): Conflict[] {
    const found: Conflict[] = [];
    for (const name of this.#store.liveNames()) {
      const { winner, losers } = this.standing(name);
      const contested = winner ? losers.filter((loser) => contests(winner, loser)) : [];
      if (winner && contested.length > 0) found.push({ name, winner, losers: contested });
    }
    return found.sort(byName);
  }

  /** Keeps the standing of `name` before a change (once a step). */
  touch(name: string): void {
    if (!this.#before.has(name)) this.#before.set(name, this.standing(name));
  }

  /** The events of every touched name, in the order they were touched; forgets them. */
  events(): NameEvent[] {
    const events: NameEvent[] = [];
    for (const [name, before] of this.#before) {
      const after = this.standing(name);
      const was = before.winner;
      const now = after.winner;
      if (now && (!was || was.uri !== now.uri)) {
        events.push({ kind: "registered", name, uri: now.uri!, metadata: [...now.metadata], origin: now.origin });
      } else if (now && was && !sameTags(was.metadata, now.metadata)) {
        events.push({ kind: "metadataChanged", name, metadata: [...now.metadata], origin: now.origin });
      } else if (!now && was) {
        events.push({ kind: "removed", name, uri: was.uri!, origin: was.origin });
      }
      if (now) {
        const lost = new Set(before.losers.filter((r) => was && contests(was, r)).map((r) => r.origin));
        for (const loser of after.losers) if (!lost.has(loser.origin) && contests(now, loser)) events.push({ kind: "conflict", name, winner: now.origin, loser: loser.origin });
      }
    }
    this.#before.clear();
    return events;
  }
}
