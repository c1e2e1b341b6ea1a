import { expose } from "../../decorators/index.js";
import type { ObjectMetadata } from "../protocol/metadata.js";
export { DAEMON_OBJECT_ID } from "../protocol/metadata.js";
import { callContext } from "./call-context.js";
import type { Registry } from "./registry.js";

/** Served by every daemon: liveness, what it serves, and the shape of each object for proxies. */
@expose
export class DaemonObject {
  readonly #registry: Registry;
  readonly #describe: () => string;

  constructor(registry: Registry, describe: () => string) {
    this.#registry = registry;
    this.#describe = describe;
  }

  ping(): void {}

  info(): string {
    return this.#describe();
  }

  registered(): string[] {
    return this.#registry.ids();
  }

  /** The exposed shape of `objectId` (for a session class, of the caller's instance). */
  metadata(objectId: string): ObjectMetadata {
    if (typeof objectId !== "string") throw new TypeError("objectId must be a string");
    return this.#registry.resolve(objectId, callContext()?.peerId ?? "").shape.metadata;
  }
}
