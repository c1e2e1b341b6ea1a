/** Object id of the object every daemon serves about itself (ping, info, registered, metadata). */
export const DAEMON_OBJECT_ID = "pyro-ts.Daemon";

/**
 * The remote shape of an exposed object, as the daemon object reports it on connect,
 * so a proxy rejects unknown members locally.
 */
export interface ObjectMetadata {
  /** Methods that can be called. */
  readonly methods: readonly string[];
  /** Attributes (getters, exposed fields) that can be read. */
  readonly attributes: readonly string[];
  /** Attributes that can be written with `$set`. */
  readonly writable: readonly string[];
  /** Methods called without awaiting a reply. */
  readonly oneway: readonly string[];
  /** Signal members a client can connect to. */
  readonly signals: readonly string[];
}
