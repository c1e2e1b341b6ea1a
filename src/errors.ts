/**
 * The one error hierarchy of pyro-ts. Every failure a caller can see is one of these,
 * so `catch (e) { if (e instanceof CommunicationError) retry(); }` is enough to tell
 * a network problem from a bug in the remote object (`RemoteError`).
 *
 *   PyroError
 *   ├── CommunicationError
 *   │   ├── ConnectionClosedError
 *   │   ├── TimeoutError
 *   │   ├── ProtocolError
 *   │   ├── MessageTooLargeError
 *   │   └── SerializeError
 *   ├── NamingError
 *   ├── DaemonError
 *   │   ├── UnknownMemberError
 *   │   └── LimitExceededError
 *   ├── SecurityError
 *   │   └── LockedError
 *   └── RemoteError          (an exception thrown by the remote object itself)
 */

/** Base class of every error pyro-ts raises. */
export class PyroError extends Error {
  override name = "PyroError";
}

/** Something went wrong moving a message between two processes. */
export class CommunicationError extends PyroError {
  override name = "CommunicationError";
}

/** The connection went away while a call was pending, or was closed locally. */
export class ConnectionClosedError extends CommunicationError {
  override name = "ConnectionClosedError";
}

/** No reply arrived within the proxy's timeout; the pending call was dropped. */
export class TimeoutError extends CommunicationError {
  override name = "TimeoutError";
}

/** A message did not follow the wire protocol (docs/protocol.md). */
export class ProtocolError extends CommunicationError {
  override name = "ProtocolError";
}

/** A message was larger than the configured maximum size. */
export class MessageTooLargeError extends CommunicationError {
  override name = "MessageTooLargeError";
}

/** A value could not be encoded or decoded. */
export class SerializeError extends CommunicationError {
  override name = "SerializeError";
}

/** A name, URI or nameserver problem. */
export class NamingError extends PyroError {
  override name = "NamingError";
}

/**
 * A shared store (etcd) did not commit a change within its time bound (unreachable, no
 * quorum, or too slow): the registration, removal or tag change was not made. A NamingError,
 * so callers that handle naming failures handle this one too; `retryable` says trying again
 * later may work.
 */
export class EtcdUnavailableError extends NamingError {
  override name = "EtcdUnavailableError";
  readonly retryable = true;
}

/** The daemon refused a request: unknown object, daemon shutting down, bad registration. */
export class DaemonError extends PyroError {
  override name = "DaemonError";
}

/** A member that does not exist on the remote object, or is not exposed. */
export class UnknownMemberError extends DaemonError {
  override name = "UnknownMemberError";
}

/** A per-connection or per-daemon limit was reached (calls in progress, connections, subscriptions). */
export class LimitExceededError extends DaemonError {
  override name = "LimitExceededError";
}

/** Authentication or authorisation failed. */
export class SecurityError extends PyroError {
  override name = "SecurityError";
}

/** The object is locked by another client; `message` names the holder. */
export class LockedError extends SecurityError {
  override name = "LockedError";
}

/**
 * An exception thrown (or a promise rejected) by the remote object.
 * `name` is the remote error's name (`"RangeError"`), `remoteStack` its stack trace
 * as it was in the remote process.
 */
export class RemoteError extends PyroError {
  readonly remoteStack: string | undefined;

  constructor(name: string, message: string, remoteStack?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.remoteStack = remoteStack;
  }
}
