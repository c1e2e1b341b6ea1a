/**
 * The connections of one Pyro5 proxy: Pyro5 serves a connection one request at a time, so
 * concurrent calls each take a free connection (up to maxConnections, opened on demand) and
 * wait in order for one otherwise. A connection that fails is dropped; the next call opens a
 * new one (Pyro5's proxy reconnects on next use too). A stream's item requests go to the
 * connection it was opened on: a Python daemon ends the streams of a connection that closes.
 */
import { ConnectionClosedError, TimeoutError } from "../../errors.js";
import type { Location } from "../../uri.js";
import type { Pyro5Message } from "../wire/message.js";
import { Pyro5Connection, type Pyro5ConnectionOptions, type Pyro5Request } from "./pyro5-connection.js";
import type { Pyro5Metadata } from "./pyro5-metadata.js";

export interface Pyro5PoolOptions extends Pyro5ConnectionOptions {
  /** Connections opened at most, so calls at most in flight. */
  readonly maxConnections: number;
}

/** A reply and the connection it came on (a stream's later requests go there too). */
export interface Pyro5Reply {
  readonly message: Pyro5Message;
  readonly connection: Pyro5Connection;
}

interface Job {
  readonly request: Pyro5Request;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly oneway: boolean;
  readonly pinned: Pyro5Connection | undefined;
  readonly resolve: (reply: Pyro5Reply | undefined) => void;
  readonly reject: (error: Error) => void;
}

export class Pyro5Pool {
  readonly #location: Location;
  readonly #objectId: string;
  readonly #options: Pyro5PoolOptions;
  readonly #idle = new Set<Pyro5Connection>();
  readonly #all = new Set<Pyro5Connection>();
  #opening = 0;
  /** Jobs any connection may take, oldest first from #head (a head index: shift() would be quadratic). */
  #queue: Job[] = [];
  #head = 0;
  /** Jobs for one connection (a stream's requests), per connection, oldest first. */
  readonly #pinned = new Map<Pyro5Connection, Job[]>();
  #closed: Error | undefined;

  constructor(location: Location, objectId: string, options: Pyro5PoolOptions) {
    this.#location = location;
    this.#objectId = objectId;
    this.#options = options;
  }

  /** Opens the first connection; resolves with the metadata its handshake carried. */
  async start(): Promise<Pyro5Metadata | undefined> {
    this.#opening++;
    try {
      const { connection, metadata } = await Pyro5Connection.open(this.#location, this.#objectId, this.#options);
      this.#adopt(connection);
      return metadata;
    } finally {
      this.#opening--;
    }
  }

  /** Sends a request on a free connection (or `pinned`) and resolves with its reply. */
  request(request: Pyro5Request, timeoutMs: number, pinned?: Pyro5Connection): Promise<Pyro5Reply> {
    return this.#enqueue(request, timeoutMs, false, pinned) as Promise<Pyro5Reply>;
  }

  /** Sends a oneway request; resolves once it is written (nothing comes back). */
  async oneway(request: Pyro5Request, timeoutMs: number, pinned?: Pyro5Connection): Promise<void> {
    await this.#enqueue(request, timeoutMs, true, pinned);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = new ConnectionClosedError(`proxy for PYRO:${this.#objectId} is closed`);
    for (const job of this.#takeAll()) job.reject(this.#closed);
    for (const jobs of this.#pinned.values()) for (const job of jobs) job.reject(this.#closed);
    this.#pinned.clear();
    // Closed gracefully: a oneway close_stream written just before still reaches the daemon.
    for (const connection of this.#all) connection.close();
  }

  #enqueue(request: Pyro5Request, timeoutMs: number, oneway: boolean, pinned: Pyro5Connection | undefined): Promise<Pyro5Reply | undefined> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const job = { request, deadline: Date.now() + timeoutMs, timeoutMs, oneway, pinned, resolve, reject };
      if (!pinned) this.#queue.push(job);
      else if (pinned.closed) job.reject(gone());
      else {
        const jobs = this.#pinned.get(pinned);
        if (jobs) jobs.push(job);
        else this.#pinned.set(pinned, [job]);
      }
      this.#pump();
    });
  }

  #adopt(connection: Pyro5Connection): void {
    this.#all.add(connection);
    this.#idle.add(connection);
    connection.onClose(() => {
      this.#all.delete(connection);
      this.#idle.delete(connection);
      for (const job of this.#pinned.get(connection) ?? []) job.reject(gone());
      this.#pinned.delete(connection);
      this.#pump();
    });
    if (this.#closed) connection.close();
    this.#pump();
  }

  /**
   * Gives each free connection its own next job (a stream's), else the oldest job any may take;
   * opens one more connection when jobs wait and all are busy. Only free connections are
   * visited: a reply costs no walk over the calls still waiting.
   */
  #pump(): void {
    for (const connection of this.#idle) {
      // A oneway job or an expired one leaves the connection free for the next.
      for (let job = this.#nextFor(connection); job !== undefined; job = this.#idle.has(connection) ? this.#nextFor(connection) : undefined) {
        if (Date.now() > job.deadline) job.reject(new TimeoutError(`no connection to PYRO:${this.#objectId} was free within ${job.timeoutMs} ms`));
        else this.#run(connection, job);
      }
    }
    const waiting = this.#queue.length - this.#head;
    if (waiting > this.#opening && this.#all.size + this.#opening < this.#options.maxConnections) this.#open();
  }

  #nextFor(connection: Pyro5Connection): Job | undefined {
    const pinned = this.#pinned.get(connection);
    if (pinned) {
      const job = pinned.shift();
      if (pinned.length === 0) this.#pinned.delete(connection);
      return job;
    }
    if (this.#head === this.#queue.length) return undefined;
    const job = this.#queue[this.#head++];
    if (this.#head === this.#queue.length || (this.#head > 1024 && this.#head * 2 > this.#queue.length)) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return job;
  }

  #takeAll(): Job[] {
    const jobs = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    return jobs;
  }

  #run(connection: Pyro5Connection, job: Job): void {
    if (job.oneway) {
      try {
        connection.sendOneway(job.request);
        job.resolve(undefined);
      } catch (error) {
        job.reject(error as Error);
      }
      return;
    }
    this.#idle.delete(connection);
    connection.request(job.request, Math.max(1, job.deadline - Date.now())).then(
      (message) => {
        if (!connection.closed) this.#idle.add(connection);
        job.resolve({ message, connection });
        this.#pump();
      },
      (error: Error) => job.reject(error),
    );
  }

  #open(): void {
    this.#opening++;
    Pyro5Connection.open(this.#location, this.#objectId, this.#options).then(
      ({ connection }) => {
        this.#opening--;
        this.#adopt(connection);
      },
      (error: Error) => {
        this.#opening--;
        // Nobody left to serve the queue: its calls fail with why, rather than wait for ever.
        if (this.#all.size === 0 && this.#opening === 0) for (const job of this.#takeAll()) job.reject(error);
      },
    );
  }
}

const gone = (): ConnectionClosedError => new ConnectionClosedError("the connection this stream was opened on is gone");
