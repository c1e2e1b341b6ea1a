import { behaviorOf, type InstanceMode } from "../../decorators/index.js";
import { DaemonError } from "../errors.js";
import { validateObjectId } from "../uri.js";
import { exposesAnything, shapeOf, type ExposedShape } from "./introspect.js";
import { RunningCount } from "../running-count.js";

type Constructor = new () => object;

/** What serves a request: the instance, its exposed shape, and what to call when the request is finished. */
export interface Resolved {
  readonly instance: object;
  readonly shape: ExposedShape;
  readonly done: () => void;
}

/** An instance registered as it is: every client talks to this object. */
interface InstanceEntry {
  readonly kind: "instance";
  readonly id: string;
  readonly instance: object;
  /** The same for every request: made once. */
  readonly resolved: Resolved;
}

/** A class registered with an instance mode: the daemon creates the instances. */
interface ClassEntry {
  readonly kind: "class";
  readonly id: string;
  readonly ctor: Constructor;
  readonly mode: InstanceMode;
  single?: object;
  readonly sessions: Map<string, object>;
  /** Shape of the class, from its first instance (percall creates one per call). */
  shape?: ExposedShape;
}

type Entry = InstanceEntry | ClassEntry;

/** Where a registry reports a dispose that failed: nobody else is there to catch it. */
export type DisposeErrorReporter = (error: unknown, context: string) => void;

/** Objects and classes registered in a daemon, by id, and their instances per mode. */
export class Registry {
  readonly #entries = new Map<string, Entry>();
  readonly #ids = new Map<object, string>();
  readonly #onError: DisposeErrorReporter;
  /** Disposals still running, so close() can let hardware be released before it returns. */
  readonly #disposing = new RunningCount();

  constructor(onError: DisposeErrorReporter) {
    this.#onError = onError;
  }

  add(target: object, id: string): void {
    validateObjectId(id);
    if (this.#entries.has(id)) throw new DaemonError(`an object is already registered as ${JSON.stringify(id)}`);
    if (this.#ids.has(target)) throw new DaemonError(`this object is already registered as ${JSON.stringify(this.#ids.get(target))}`);
    let entry: Entry;
    if (typeof target === "function") {
      if (!target.prototype) throw new DaemonError(`${target.name || "function"} is not a class`);
      entry = { kind: "class", id, ctor: target as Constructor, mode: behaviorOf(target).instanceMode, sessions: new Map() };
    } else {
      const shape = shapeOf(target);
      if (!exposesAnything(shape)) {
        throw new DaemonError(`${target.constructor?.name ?? "object"} exposes nothing: decorate the class or its members with @expose`);
      }
      entry = { kind: "instance", id, instance: target, resolved: { instance: target, shape, done: noop } };
    }
    this.#entries.set(id, entry);
    this.#ids.set(target, id);
  }

  remove(idOrTarget: string | object): string | undefined {
    const id = typeof idOrTarget === "string" ? idOrTarget : this.#ids.get(idOrTarget);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (!entry) return undefined;
    this.#entries.delete(entry.id);
    this.#ids.delete(entry.kind === "instance" ? entry.instance : entry.ctor);
    if (entry.kind === "class") {
      for (const instance of entry.sessions.values()) this.#dispose(instance);
      entry.sessions.clear();
      if (entry.single) this.#dispose(entry.single);
      entry.single = undefined;
    }
    return entry.id;
  }

  idOf(target: object): string | undefined {
    return this.#ids.get(target);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * The instance serving `id` for `peerId`, created according to the instance mode.
   * `done` must be called when the request is finished: it disposes a percall instance.
   */
  resolve(id: string, peerId: string): Resolved {
    const entry = this.#entries.get(id);
    if (!entry) throw new DaemonError(`unknown object ${JSON.stringify(id)}`);
    if (entry.kind === "instance") return entry.resolved;
    const instance = this.#instanceFor(entry, peerId);
    const done = entry.mode === "percall" ? () => this.#dispose(instance) : noop;
    entry.shape ??= shapeOf(instance);
    if (!exposesAnything(entry.shape)) {
      done();
      throw new DaemonError(`${entry.ctor.name} exposes nothing: decorate the class or its members with @expose`);
    }
    return { instance, shape: entry.shape, done };
  }

  /** The exposed shape of `id`, creating an instance only the first time for a class (and disposing it for percall). */
  shape(id: string, peerId: string): ExposedShape {
    const entry = this.#entries.get(id);
    if (entry?.kind === "class" && entry.shape) return entry.shape;
    const resolved = this.resolve(id, peerId);
    resolved.done();
    return resolved.shape;
  }

  /** The class or object behind `id`, for questions about the class (lockable?). */
  typeOf(id: string): Function {
    const entry = this.#entries.get(id);
    if (!entry) throw new DaemonError(`unknown object ${JSON.stringify(id)}`);
    return entry.kind === "instance" ? entry.instance.constructor : entry.ctor;
  }

  /** Drops the session instances of a connection that is gone, disposing each once. */
  endSession(peerId: string): void {
    for (const entry of this.#entries.values()) {
      if (entry.kind !== "class") continue;
      const instance = entry.sessions.get(peerId);
      if (instance) {
        // Deleted first: a second end of the same session finds nothing to dispose.
        entry.sessions.delete(peerId);
        this.#dispose(instance);
      }
    }
  }

  /** Removes everything, disposing created instances. */
  clear(): void {
    for (const id of [...this.#entries.keys()]) this.remove(id);
  }

  /** Resolves once the disposals under way have ended, or after `timeoutMs`, whichever is first. */
  disposed(timeoutMs: number): Promise<void> {
    return this.#disposing.none(timeoutMs);
  }

  #dispose(instance: object): void {
    this.#disposing.begin();
    void dispose(instance).catch((error: unknown) => {
      try {
        this.#onError(error, `disposing an instance of ${instance.constructor?.name ?? "object"} failed`);
      } catch {
        // A reporter that throws must not turn a failed release into an unhandled rejection.
      }
    }).finally(() => this.#disposing.end());
  }

  #instanceFor(entry: ClassEntry, peerId: string): object {
    switch (entry.mode) {
      case "single":
        return (entry.single ??= construct(entry.ctor));
      case "percall":
        return construct(entry.ctor);
      case "session": {
        let instance = entry.sessions.get(peerId);
        if (!instance) {
          instance = construct(entry.ctor);
          entry.sessions.set(peerId, instance);
        }
        return instance;
      }
    }
  }
}

const noop = (): void => {};

function construct(ctor: Constructor): object {
  try {
    return new ctor();
  } catch (error) {
    throw new DaemonError(`cannot create an instance of ${ctor.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Lets an instance the daemon created release what it holds (a lab instrument its hardware):
 * the first of Symbol.asyncDispose, Symbol.dispose and a `dispose()` method it has. Rejects
 * with what that threw.
 */
async function dispose(instance: object): Promise<void> {
  const target = instance as Partial<AsyncDisposable & Disposable & { dispose: unknown }>;
  const release = target[Symbol.asyncDispose] ?? target[Symbol.dispose] ?? target.dispose;
  if (typeof release === "function") await (release as () => unknown).call(instance);
}
