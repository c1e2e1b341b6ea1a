import {
  Daemon as BaseDaemon,
  newObjectId,
  type DaemonOptions as BaseDaemonOptions,
  type RegisterOptions as BaseRegisterOptions,
} from "../daemon/daemon.js";
import { DaemonError } from "../errors.js";
import type { LocateOptions } from "./locate.js";
import { NameKeeper } from "./name-keeper.js";

/** How an object is registered: its id in the daemon, and optionally a name in the nameserver. */
export interface RegisterOptions extends BaseRegisterOptions {
  /** Logical name to register in the nameserver (`lab.laser`). */
  readonly name?: string;
  /** Metadata tags for the nameserver registration. */
  readonly metadata?: readonly string[];
}

export interface DaemonOptions extends BaseDaemonOptions {
  /** Where the nameserver is (or several, in order of preference), for objects registered with a `name` (see LocateOptions). Default: located. */
  readonly ns?: string | readonly string[] | LocateOptions;
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

  constructor(options: DaemonOptions = {}) {
    super(options);
    this.#ns = options.ns;
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

  /** Registers the names given to register() in the nameserver. */
  protected override async afterStart(): Promise<void> {
    await this.#names?.start();
  }

  /** Removes the names first, so clients stop finding a daemon that is going away. */
  protected override async beforeClose(): Promise<void> {
    await this.#names?.close();
  }

  protected override objectRemoved(objectId: string): void {
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
