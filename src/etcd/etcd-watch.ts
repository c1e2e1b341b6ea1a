import type { Etcd3, IDuplexStream, IKeyValue, IWatchRequest, IWatchResponse } from "etcd3";
import { bounded, describeError, pause, quiet } from "./etcd-client.js";
import type { EtcdEvent, EtcdKv, ViewChange } from "./etcd-view.js";

/** The key range a watch lists and watches: an EtcdLayout's names range, or any other (`namesEnd` excluded). */
export interface WatchedRange {
  readonly namesKey: Buffer;
  readonly namesEnd: Buffer;
}

/** What a watch keeps current: a view loaded from a listing and moved on by events, each step returning its changes. EtcdView is one. */
export interface WatchedView<C> {
  readonly revision: number;
  load(kvs: readonly EtcdKv[], revision: number): C[];
  apply(events: readonly EtcdEvent[]): C[];
}

/** What the watch tells its owner. */
export interface WatchHooks<C = ViewChange> {
  /** Changes applied to the view, in revision order; `resync`: they came from a fresh listing. */
  changes(changes: readonly C[], resync: boolean): void;
  /** Said when something the owner should know happened (a resync, a cancelled watch). */
  log(message: string): void;
}

/** Keys per listing page: a large namespace is listed at one revision, in pages. */
const PAGE = 500;
const MAX_BACKOFF_MS = 1000;
/** A whole listing is one attempt: time for many pages, and still a second try within an open's bound. */
const LISTING_ATTEMPT_MS = 2000;

/**
 * Keeps an EtcdView current: lists the names range at a revision R, then watches from R+1.
 * A broken watch resumes from the last revision applied (so nothing is missed and nothing
 * applied twice); when etcd has compacted that revision away, it lists again, applies the
 * differences and reports a resync. Every second it asks for a progress answer, so a watch
 * that went silent (a stopped or cut-off member) is found and reopened within a few seconds.
 */
export class EtcdWatch<C = ViewChange> {
  readonly #client: Etcd3;
  readonly #layout: WatchedRange;
  readonly #view: WatchedView<C>;
  readonly #hooks: WatchHooks<C>;
  readonly #probeMs: number;
  #stream: WatchStream | undefined;
  #created = false;
  #lastHeard = 0;
  #backoff = 100;
  #closed = false;
  readonly #stop = new AbortController();
  #probe: NodeJS.Timeout | undefined;
  #waitCreated: (() => void) | undefined;

  constructor(client: Etcd3, layout: WatchedRange, view: WatchedView<C>, hooks: WatchHooks<C>, probeMs = 1000) {
    this.#client = client;
    this.#layout = layout;
    this.#view = view;
    this.#hooks = hooks;
    this.#probeMs = probeMs;
  }

  /** Whether the watch is established and etcd answered it lately: the view is current. */
  get current(): boolean {
    return this.#created && Date.now() - this.#lastHeard < 3 * this.#probeMs;
  }

  /** Lists the namespace into the view, then watches from the next revision; both by `deadline`. */
  async start(deadline: number): Promise<void> {
    const { kvs, revision } = await this.#list(deadline);
    this.#view.load(kvs, revision);
    const created = new Promise<void>((resolve) => (this.#waitCreated = resolve));
    this.#open();
    await bounded("watch", deadline, () => created, { stop: this.#stop.signal, attemptMs: Infinity });
    this.#probe = setInterval(() => this.#checkAlive(), this.#probeMs);
    this.#probe.unref();
  }

  close(): void {
    this.#closed = true;
    this.#stop.abort();
    clearInterval(this.#probe);
    this.#drop();
  }

  #open(): void {
    if (this.#closed) return;
    this.#client.watchClient.watch().then(
      (stream) => {
        if (this.#closed) return quiet(stream);
        this.#stream = stream;
        this.#lastHeard = Date.now();
        stream.on("data", (response: IWatchResponse) => this.#stream === stream && this.#onResponse(response));
        stream.on("error", () => this.#stream === stream && this.#broken());
        stream.on("end", () => this.#stream === stream && this.#broken());
        stream.write({
          create_request: { key: this.#layout.namesKey, range_end: this.#layout.namesEnd, start_revision: this.#view.revision + 1, progress_notify: true },
        });
      },
      () => this.#retry(),
    );
  }

  #onResponse(response: IWatchResponse): void {
    this.#lastHeard = Date.now();
    if (response.compact_revision !== "0" && response.compact_revision !== "") {
      this.#drop();
      void this.#resync(Number(response.compact_revision));
    } else if (response.canceled) {
      this.#hooks.log(`etcd cancelled the watch of ${this.#layout.namesKey.toString()} (${response.cancel_reason || "no reason given"}); watching again`);
      this.#broken();
    } else if (response.created) {
      this.#created = true;
      this.#backoff = 100;
      this.#waitCreated?.();
    } else if (response.events.length > 0) {
      // Progress answers (no events) advance nothing: in etcd 3.4 they may run ahead of events still to come.
      const changes = this.#view.apply(response.events.map(toEvent));
      if (changes.length > 0) this.#hooks.changes(changes, false);
    }
  }

  /** History from our revision on is compacted: list again and report the differences, never a silent gap. */
  async #resync(compacted: number): Promise<void> {
    this.#hooks.log(`etcd compacted the history of ${this.#layout.namesKey.toString()} up to revision ${compacted}, past revision ${this.#view.revision} seen here: listing it again (resync)`);
    while (!this.#closed) {
      try {
        const { kvs, revision } = await this.#list(Date.now() + 5000);
        if (this.#closed) return;
        const changes = this.#view.load(kvs, revision);
        this.#hooks.changes(changes, true);
        return this.#open();
      } catch (error) {
        this.#hooks.log(`etcd resync failed (${describeError(error)}); trying again`);
        await pause(500);
      }
    }
  }

  /** The whole names range at one revision, in pages; a compaction midway starts it over. */
  #list(deadline: number): Promise<{ kvs: EtcdKv[]; revision: number }> {
    return bounded("listing", deadline, async (options) => {
      const kvs: EtcdKv[] = [];
      let revision = 0;
      let from = this.#layout.namesKey;
      for (;;) {
        const page = await this.#client.kv.range({ key: from, range_end: this.#layout.namesEnd, limit: PAGE, ...(revision > 0 && { revision }) }, options);
        if (revision === 0) revision = Number(page.header.revision);
        kvs.push(...page.kvs.map(toKv));
        if (!page.more || page.kvs.length === 0) return { kvs, revision };
        from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
      }
    }, { stop: this.#stop.signal, attemptMs: LISTING_ATTEMPT_MS });
  }

  #checkAlive(): void {
    const stream = this.#stream;
    if (!stream) return;
    if (Date.now() - this.#lastHeard > 3 * this.#probeMs) {
      this.#hooks.log(`the etcd watch of ${this.#layout.namesKey.toString()} went silent; watching again from revision ${this.#view.revision + 1}`);
      return this.#broken();
    }
    stream.write({ progress_request: {} });
  }

  #broken(): void {
    this.#drop();
    this.#retry();
  }

  #retry(): void {
    if (this.#closed) return;
    setTimeout(() => this.#open(), this.#backoff).unref();
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
  }

  #drop(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#created = false;
    if (stream) quiet(stream);
  }
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

function toKv(kv: IKeyValue): EtcdKv {
  return { key: kv.key, value: kv.value, modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision), lease: kv.lease };
}

function toEvent(event: IWatchResponse["events"][number]): EtcdEvent {
  return event.type === "Delete" ? { type: "delete", key: event.kv.key, modRevision: Number(event.kv.mod_revision) } : { type: "put", kv: toKv(event.kv) };
}
