import type { NameRecord } from "./name-record.js";
import { parsePairAnswer, refusal, type HandbackEntry, type HandbackRequest, type PairAnswer, type PairRequest } from "./pair-message.js";
import type { PeerAddress } from "./peer-links.js";
import type { OwnChanges, RegistryReplica, ReplicaOutput } from "./registry-replica.js";

/**
 * How long a change made on a paired nameserver waits for its partner to hold it. A live
 * partner answers in milliseconds; one that does not within this is most likely dying
 * (membership declares it dead a few seconds later), and the change stands without it.
 */
export const PAIR_ACK_MS = 2000;
/** How long a handback may wait for its answer, and how often an unanswered one is retried. */
const HANDBACK_RETRY_MS = 2000;
/** Warnings about unacknowledged changes: the first, then one every this many. */
const WARN_EVERY = 100;

/** The nameserver's own registrations (its storage), kept in step with takeovers and handbacks. */
export interface OwnNames {
  put(registration: { readonly name: string; readonly uri: string; readonly metadata: readonly string[] }): void;
  remove(names: readonly string[]): unknown;
}

/** What a pair link does, counted. */
export interface PairStats {
  /** Local changes the partner acknowledged. */
  readonly confirmed: number;
  /** Local changes the partner did not acknowledge in time (or could not be asked): they stand without it. */
  readonly unconfirmed: number;
  /** Requests the partner refused, and answers that were malformed. */
  readonly refused: number;
  /** Names taken over from the partner when it went down. */
  readonly adopted: number;
  /** Names handed back to the partner once it was live again. */
  readonly handedBack: number;
  /** Names the partner handed back to us. */
  readonly takenBack: number;
}

/** What the pair link needs of the replication driver around it. */
export interface PairContext {
  readonly self: string;
  readonly replica: RegistryReplica;
  /** Carries out a replica step that changed records of our own origin (counters kept, sends, events). */
  readonly carry: (output: ReplicaOutput) => void;
  /** Sends a request to a member's nameserver; resolves with the raw answer, rejects when none came in time. */
  readonly request: (to: PeerAddress, request: PairRequest, timeoutMs: number) => Promise<unknown>;
  readonly storage?: OwnNames;
  /** Whether a name of ours was restored from storage at start and is unchanged since (asked once per name). */
  readonly restored: (name: string) => boolean;
  readonly warn: (message: string) => void;
}

type Counters = { -readonly [K in keyof PairStats]: number };

/**
 * One side of an active/standby pair: the partner is the member at the configured endpoint.
 * Each local change is confirmed to the live partner (a request, answered once it holds the
 * change) before the nameserver acknowledges it; when the partner is declared dead or
 * leaves, its names are taken over in the same step; when it is live again, they are
 * handed back (replica-takeover.ts), and its handbacks to us are answered here.
 */
export class PairLink {
  readonly endpoint: string;
  readonly #context: PairContext;
  /** The live member at the partner's endpoint, if any. */
  #partner: { readonly id: string; readonly contact: PeerAddress } | undefined;
  /** Confirmations waiting for the partner: released at once when it goes down. */
  readonly #waiting = new Set<() => void>();
  #handbackInFlight = false;
  #nextHandback = Infinity;
  readonly #counts: Counters = { confirmed: 0, unconfirmed: 0, refused: 0, adopted: 0, handedBack: 0, takenBack: 0 };

  constructor(endpoint: string, context: PairContext) {
    this.endpoint = endpoint;
    this.#context = context;
  }

  get stats(): PairStats {
    return { ...this.#counts };
  }

  /** The member at the partner's endpoint is live (joined, alive again, or suspect). */
  partnerLive(now: number, id: string, contact: PeerAddress): void {
    this.#context.replica.pairWith(id);
    if (this.#partner?.id === id) return;
    this.#partner = { id, contact };
    // Handed back once the partner has our records (after we answer its digest); this is the fallback.
    this.#nextHandback = now + HANDBACK_RETRY_MS;
  }

  /** A member at the partner's endpoint was declared dead or left: its names become ours, in this step. */
  partnerDown(now: number, id: string): void {
    if (this.#partner?.id === id) {
      this.#partner = undefined;
      for (const release of [...this.#waiting]) release();
    }
    const output = this.#context.replica.takeover(now, id);
    this.#own(output);
    this.#counts.adopted += output.records.length;
    // A partner already back under a new id (memory storage) gets them without waiting for a digest.
    if (output.records.length > 0 && this.#partner) this.#nextHandback = Math.min(this.#nextHandback, now + HANDBACK_RETRY_MS);
  }

  /**
   * Waits (at most PAIR_ACK_MS) until the live partner holds a local change; undefined when
   * there is nothing to wait for. Never rejects: a change the partner did not confirm stands.
   */
  confirm(record: NameRecord | undefined): Promise<void> | undefined {
    const partner = this.#partner;
    if (!record || !partner) return undefined;
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (confirmed: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiting.delete(release);
        if (confirmed) this.#counts.confirmed++;
        else this.#unconfirmed(record);
        resolve();
      };
      const release = (): void => done(false);
      // The request has the same bound; this one also covers a request that never settles.
      const timer = setTimeout(release, PAIR_ACK_MS + 100);
      timer.unref();
      this.#waiting.add(release);
      this.#context.request(partner.contact, { kind: "confirm", from: this.#context.self, records: [record] }, PAIR_ACK_MS).then(
        (raw) => done(this.#accepted(raw)?.kind === "accepted"),
        () => done(false),
      );
    });
  }

  /** Answers a handback: only from our partner, live. */
  answerHandback(now: number, request: HandbackRequest): PairAnswer {
    if (this.#partner?.id !== request.from) return refusal("not-partner", `${request.from} is not this nameserver's live pair partner`);
    const { replica } = this.#context;
    this.#own(replica.takeBack(now, request.entries, this.#context.restored));
    this.#counts.takenBack += request.entries.filter((entry) => entry.back).length;
    // Our record of every name, written now or before (an earlier answer may have been lost):
    // the survivor holds them before its copies go, so no name stops answering there.
    const records = request.entries.map((entry) => replica.own(entry.name)).filter((record): record is NameRecord => record !== undefined);
    return { kind: "accepted", records };
  }

  /** We answered a digest: if it came from the partner, it now has our records, and adopted names can go back. */
  digestAnswered(now: number, from: string): void {
    if (from === this.#partner?.id) this.#handback(now);
  }

  tick(now: number): void {
    if (now >= this.#nextHandback) this.#handback(now);
  }

  /** Hands back the next batch of adopted names to the live partner, one request at a time. */
  #handback(now: number): void {
    const partner = this.#partner;
    if (!partner || this.#handbackInFlight) return;
    const entries = this.#context.replica.handback();
    if (entries.length === 0) {
      this.#nextHandback = Infinity;
      return;
    }
    this.#handbackInFlight = true;
    this.#nextHandback = now + HANDBACK_RETRY_MS;
    const request: PairRequest = { kind: "handback", from: this.#context.self, entries };
    let settled = false;
    const settle = (raw?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      this.#handbackInFlight = false;
      if (raw !== undefined) this.#handedBack(partner.id, entries, raw);
    };
    // The request has the same bound; this one also covers a request that never settles.
    const guard = setTimeout(() => settle(), HANDBACK_RETRY_MS + 100);
    guard.unref();
    this.#context.request(partner.contact, request, HANDBACK_RETRY_MS).then(
      (raw) => settle(raw),
      () => settle(),
    );
  }

  #handedBack(partner: string, entries: readonly HandbackEntry[], raw: unknown): void {
    const answer = this.#accepted(raw, partner);
    if (answer === undefined) return;
    if (answer.kind === "refused") {
      // Not paired with us: it will never take them; they stay ours, unshadowed.
      this.#context.carry(this.#context.replica.abandonHandback());
      return;
    }
    this.#own(this.#context.replica.settleHandback(Date.now(), entries, answer.records));
    this.#counts.handedBack += entries.filter((entry) => entry.back).length;
    // More adopted names than one request carries: the next batch at once.
    if (this.#partner?.id === partner) this.#handback(Date.now());
  }

  /**
   * A partner's answer, validated: accepted (its records all of `origin`, when given), or a
   * not-partner refusal; anything else is counted and undefined.
   */
  #accepted(raw: unknown, origin?: string): PairAnswer | undefined {
    let answer: PairAnswer;
    try {
      answer = parsePairAnswer(raw);
    } catch {
      this.#counts.refused++;
      return undefined;
    }
    if (answer.kind === "accepted" && (origin === undefined || answer.records.every((record) => record.origin === origin))) return answer;
    this.#counts.refused++;
    return answer.kind === "refused" && answer.reason === "not-partner" ? answer : undefined;
  }

  /** Carries out a step that wrote our own records, and keeps storage in step with them. */
  #own(output: OwnChanges): void {
    this.#context.carry(output);
    const storage = this.#context.storage;
    if (!storage || output.records.length === 0) return;
    try {
      for (const record of output.records) if (record.uri !== null) storage.put({ name: record.name, uri: record.uri, metadata: record.metadata });
      const gone = output.records.filter((record) => record.uri === null).map((record) => record.name);
      if (gone.length > 0) storage.remove(gone);
    } catch (error) {
      this.#context.warn(`pair: the nameserver's storage refused a takeover or handback: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #unconfirmed(record: NameRecord): void {
    const n = ++this.#counts.unconfirmed;
    if (n === 1 || n % WARN_EVERY === 0) {
      this.#context.warn(`pair: the partner at ${this.endpoint} did not confirm ${record.name} (no answer within ${PAIR_ACK_MS} ms, or it went down; ${n} unconfirmed so far): it stands here, and reaches the partner by replication`);
    }
  }
}
