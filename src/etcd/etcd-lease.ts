import type { Etcd3, ILeaseKeepAliveResponse, IDuplexStream, ILeaseKeepAliveRequest } from "etcd3";
import { EtcdUnavailableError } from "../errors.js";
import { bounded, pause, quiet } from "./etcd-client.js";

/** What the lease tells the nameserver holding it. */
export interface LeaseHooks {
  /** etcd confirmed lease `id` alive at this store revision. */
  alive(id: string, revision: number): void;
  /** The lease `lost` expired on the server (keys attached to it are gone); `granted` replaces it. */
  replaced(lost: string, granted: string): void;
}

/**
 * A nameserver's etcd lease: granted with a TTL, kept alive every TTL/3 over one stream.
 * Loss is only ever declared on etcd's word (a keepalive answered with TTL 0, or a write
 * refused for an unknown lease): while etcd is unreachable the lease is kept trying, since
 * it may well be alive. A lost lease is replaced by a new one at once, and the holder told.
 */
export class EtcdLease {
  readonly #client: Etcd3;
  readonly #ttl: number;
  readonly #hooks: LeaseHooks;
  #id: string | undefined;
  #closed = false;
  readonly #stop = new AbortController();
  #waiters = new Set<() => void>();
  #stopKeepalive: () => void = () => {};

  constructor(client: Etcd3, ttlSeconds: number, hooks: LeaseHooks) {
    this.#client = client;
    this.#ttl = ttlSeconds;
    this.#hooks = hooks;
  }

  /** The lease id, undefined while a lost lease is being replaced. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Grants the first lease (by `deadline`) and starts keeping it alive. */
  async start(deadline: number): Promise<string> {
    const id = await this.#grant(deadline);
    this.#id = id;
    this.#keepalive(id);
    return id;
  }

  /** The current lease, waiting (until `deadline`) while a lost one is being replaced. */
  async current(deadline: number): Promise<string> {
    while (this.#id === undefined) {
      if (this.#closed) throw new EtcdUnavailableError("the etcd store is closed");
      const left = deadline - Date.now();
      if (left <= 0) throw new EtcdUnavailableError("etcd granted no new lease in time");
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
    return this.#id;
  }

  /** etcd refused a write for lease `id`: it is gone. */
  refused(id: string): void {
    this.#lost(id);
  }

  /** Stops keeping the lease alive and revokes it, so its keys go at once; bounded. */
  async revoke(timeoutMs: number): Promise<void> {
    const id = this.#id;
    this.close();
    if (id === undefined) return;
    await bounded("lease revoke", Date.now() + timeoutMs, (options) => this.#client.leaseClient.leaseRevoke({ ID: id }, options)).catch(() => {
      // Unreachable: the lease expires by itself within its TTL.
    });
  }

  close(): void {
    this.#closed = true;
    this.#stop.abort();
    this.#stopKeepalive();
    this.#wake();
  }

  async #grant(deadline: number): Promise<string> {
    const granted = await bounded("lease grant", deadline, (options) => this.#client.leaseClient.leaseGrant({ TTL: this.#ttl }, options), { stop: this.#stop.signal });
    return granted.ID;
  }

  /** Keeps lease `id` alive until it is lost or the lease closed; reopens a broken or silent stream. */
  #keepalive(id: string): void {
    const interval = (this.#ttl * 1000) / 3;
    let stream: KeepaliveStream | undefined;
    let lastAnswer = Date.now();
    let stopped = false;
    const drop = (dropped: KeepaliveStream): void => {
      if (stream !== dropped) return; // already replaced
      stream = undefined;
      quiet(dropped);
      if (!stopped) setTimeout(() => void open(), 250).unref();
    };
    const open = async (): Promise<void> => {
      let opened: KeepaliveStream;
      try {
        opened = await this.#client.leaseClient.leaseKeepAlive();
      } catch {
        if (!stopped) setTimeout(() => void open(), 250).unref();
        return;
      }
      if (stopped) return quiet(opened);
      stream = opened;
      lastAnswer = Date.now();
      opened.on("data", (answer: ILeaseKeepAliveResponse) => {
        if (stream !== opened || answer.ID !== id) return;
        lastAnswer = Date.now();
        if (Number(answer.TTL) <= 0) return this.#lost(id);
        this.#hooks.alive(id, Number(answer.header.revision));
      });
      opened.on("error", () => drop(opened));
      opened.on("end", () => drop(opened));
      opened.write({ ID: id });
    };
    const timer = setInterval(() => {
      if (!stream) return;
      // Unanswered for over an interval: the stream is dead without saying so (a stopped or cut-off member).
      if (Date.now() - lastAnswer > interval + 1000) return drop(stream);
      stream.write({ ID: id });
    }, interval);
    timer.unref();
    this.#stopKeepalive = () => {
      stopped = true;
      clearInterval(timer);
      if (stream) quiet(stream);
      stream = undefined;
    };
    void open();
  }

  /** Lease `id` is gone on the server: grant another (retrying until etcd answers) and tell the holder. */
  #lost(id: string): void {
    if (this.#id !== id || this.#closed) return;
    this.#id = undefined;
    this.#stopKeepalive();
    void (async () => {
      while (!this.#closed) {
        try {
          const granted = await this.#grant(Date.now() + this.#ttl * 1000);
          if (this.#closed) return void this.#client.leaseClient.leaseRevoke({ ID: granted }).catch(() => {});
          this.#id = granted;
          this.#keepalive(granted);
          this.#wake();
          this.#hooks.replaced(id, granted);
          return;
        } catch {
          await pause(500); // etcd unreachable: keep asking
        }
      }
    })();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

type KeepaliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;


