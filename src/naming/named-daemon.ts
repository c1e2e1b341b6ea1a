import {
  Daemon as BaseDaemon,
  newObjectId,
  type DaemonOptions as BaseDaemonOptions,
  type RegisterOptions as BaseRegisterOptions,
} from "../daemon/daemon.js";
import { DaemonError } from "../errors.js";
import { Pyro5Server, type Pyro5ServerOptions } from "../pyro5/server/pyro5-server.js";
import { parseUri, type TcpLocation } from "../uri.js";
import type { LocateOptions } from "./locate.js";
import { NameKeeper } from "./name-keeper.js";
import { Pyro5Names } from "./pyro5-names.js";
import { validateName, validateTags } from "../names.js";

/** How an object is registered: its id in the daemon, and optionally a name in the nameserver. */
export interface RegisterOptions extends BaseRegisterOptions {
  /** Logical name to register in the nameserver (`lab.laser`). */
  readonly name?: string;
  /** Metadata tags for the nameserver registration. */
  readonly metadata?: readonly string[];
  /**
   * Register `name` in this Python Pyro5 nameserver (`host:port`) instead of a pyro-ts one,
   * pointing at the object's Pyro5 URI: the daemon needs the `pyro5` option.
   */
  readonly pyro5Ns?: string;
}

export interface DaemonOptions extends BaseDaemonOptions {
  /** Where the nameserver is (or several, in order of preference), for objects registered with a `name` (see LocateOptions). Default: located. */
  readonly ns?: string | readonly string[] | LocateOptions;
  /**
   * Also serve the objects to Python Pyro5 clients (unchanged Pyro5, serpent or json) on this
   * TCP port; `host` defaults to the daemon's. See docs/pyro5.md.
   */
  readonly pyro5?: Pyro5ServerOptions;
}

/**
 * The daemon users get from pyro-ts: the daemon layer's Daemon plus names in the nameserver.
 * It lives here, above the daemon layer, so that layer never imports the naming one.
 */
export class Daemon extends BaseDaemon {
  readonly #ns: string | readonly string[] | LocateOptions | undefined;
  /** Created by the first named registration: a daemon without names never looks for a nameserver. */
  #names: NameKeeper | undefined;
  /** Nameserver names of each registered object id. */
  readonly #namesOf = new Map<string, string[]>();
  /** Serves Python Pyro5 clients, with the `pyro5` option. */
  readonly #pyro5: Pyro5Server | undefined;
  /** Names in Python Pyro5 nameservers (the pyro5Ns register option). */
  readonly #pyro5Names = new Pyro5Names((objectId) => this.pyro5UriFor(objectId), (error, context) => this.reportError(error, context));

  constructor(options: DaemonOptions = {}) {
    super(options);
    this.#ns = options.ns;
    const pyro5 = options.pyro5;
    if (pyro5) this.#pyro5 = new Pyro5Server(this.objectHost("pyro5:"), { advertisedHost: options.advertisedHost, ...pyro5, host: pyro5.host ?? options.host });
  }

  /** Where Python Pyro5 clients reach this daemon (the `pyro5` option; with port 0, known once started). */
  get pyro5Location(): TcpLocation {
    if (!this.#pyro5) throw new DaemonError("this daemon does not serve Pyro5 clients: give it the pyro5 option");
    return this.#pyro5.location;
  }

  /** The `PYRO:<id>@<host>:<port>` URI a Python Pyro5 proxy takes for a registered object (by id or the object itself). */
  pyro5UriFor(idOrTarget: string | object): string {
    if (!this.#pyro5) throw new DaemonError("this daemon does not serve Pyro5 clients: give it the pyro5 option");
    return this.#pyro5.uriFor(parseUri(this.uriFor(idOrTarget)).object);
  }

  /** Closes as the base does, then waits for the Pyro5 connections, which end once their last calls are answered. */
  override async close(): Promise<void> {
    await super.close();
    await this.#pyro5?.close();
  }

  /**
   * Registers an instance, or a class to be instantiated per its `@behavior`; returns its URI.
   * With a `name`, the object is also registered in the nameserver (when the daemon starts,
   * or at once if it runs) and removed from it when unregistered or when the daemon closes.
   */
  override register(target: object, idOrOptions?: string | RegisterOptions): string {
    const options: RegisterOptions = typeof idOrOptions === "string" ? { id: idOrOptions } : (idOrOptions ?? {});
    // Unnamed, or a closed daemon (which the base refuses with its own error, before any name check).
    if (options.name === undefined || this.state === "closing" || this.state === "closed") return super.register(target, options.id);
    if (options.pyro5Ns !== undefined) return this.#registerInPyro5Ns(target, options.name, options.pyro5Ns, options);
    const name = options.name;
    const keeper = this.#nameKeeper();
    const metadata = keeper.validate(name, options.metadata);
    if (keeper.has(name)) throw new DaemonError(`this daemon already registered the name ${JSON.stringify(name)}`);
    const objectId = options.id ?? newObjectId();
    const uri = super.register(target, objectId);
    this.#namesOf.set(objectId, [...(this.#namesOf.get(objectId) ?? []), name]);
    // Running already: find the nameserver now (afterStart() does it otherwise); add() registers at once then.
    const ready = this.state === "running" ? keeper.start() : Promise.resolve();
    ready.then(() => keeper.add(name, uri, metadata)).catch((error: unknown) => this.reportError(error, `registering ${name} in the nameserver failed`));
    return uri;
  }

  #registerInPyro5Ns(target: object, name: string, ns: string, options: RegisterOptions): string {
    if (!this.#pyro5) throw new DaemonError(`${name} cannot be registered in a Pyro5 nameserver: this daemon does not serve Pyro5 clients (give it the pyro5 option)`);
    validateName(name);
    const metadata = validateTags(options.metadata);
    if (this.#pyro5Names.has(name)) throw new DaemonError(`this daemon already registered the name ${JSON.stringify(name)}`);
    const objectId = options.id ?? newObjectId();
    const uri = super.register(target, objectId);
    this.#pyro5Names.add(name, objectId, ns, metadata);
    return uri;
  }

  /** Starts serving Pyro5 clients, then registers the names given to register() in the nameservers. */
  protected override async afterStart(): Promise<void> {
    await this.#pyro5?.start();
    // The Pyro5 URIs are known now (a port 0 is bound).
    await Promise.all([this.#pyro5Names.start(), this.#names?.start()]);
  }

  /**
   * Stops accepting Pyro5 clients (their connections end once their calls are answered, which
   * close() waits for), and removes the names, so clients stop finding a daemon that is going away.
   */
  protected override async beforeClose(): Promise<void> {
    void this.#pyro5?.close();
    await Promise.all([this.#pyro5Names.close(), this.#names?.close()]);
  }

  protected override objectRemoved(objectId: string): void {
    void this.#pyro5Names.removeObject(objectId);
    for (const name of this.#namesOf.get(objectId) ?? []) {
      this.#names?.remove(name).catch((error: unknown) => this.reportError(error, `removing ${name} from the nameserver failed`));
    }
    this.#namesOf.delete(objectId);
  }

  #nameKeeper(): NameKeeper {
    const ns = this.#ns;
    this.#names ??= new NameKeeper(typeof ns === "string" || Array.isArray(ns) ? { ns } : ((ns as LocateOptions | undefined) ?? {}), (error, context) => this.reportError(error, context));
    return this.#names;
  }
}
