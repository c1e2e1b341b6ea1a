import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { inspect } from "node:util";
import { ConnectionClosedError, LockedError, UnknownMemberError } from "../errors.js";
import { DAEMON_OBJECT_ID, type ObjectMetadata } from "../protocol/metadata.js";
import type { Channel } from "./channel.js";
import { Relocation, type Connection, type Relocator } from "./relocation.js";
import { Signal } from "../signal.js";
import { ProxySignal } from "./remote-signal.js";
import type { LockLostReason, Remote } from "./remote.js";
import { iterableReply } from "./remote-stream.js";
import type { StreamOwner } from "./stream-refs.js";

const CLOSE_UNSUBSCRIBE_TIMEOUT_MS = 1000;

/** Names the lock holder in other clients' LockedError: user, host and process. */
function defaultOwner(): string {
  return `${userInfo().username}@${hostname()} (pid ${process.pid})`;
}

/** A proxy's lock token: 18 random bytes, 24 base64url characters (protocol/message.ts LOCK_TOKEN_PATTERN). */
function newLockToken(): string {
  return randomBytes(18).toString("base64url");
}

export interface ProxyState {
  /** The first connection; the proxy may move to others (see Relocation). */
  readonly connection: Connection;
  metadata: ObjectMetadata;
  timeout: number;
  /** How to find the object again when its connection is lost (a PYRONAME proxy); absent: it stays. */
  readonly relocator?: Relocator | undefined;
}

/** Fetches an object's metadata through the daemon object. */
export async function fetchMetadata(channel: Channel, objectId: string, timeout: number): Promise<ObjectMetadata> {
  return (await channel.invoke(DAEMON_OBJECT_ID, "metadata", [objectId], timeout)) as ObjectMetadata;
}

/** The longest delay a Node timer can wait; beyond it Node fires at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** A duration a timer must wait (locateTimeout, wait, ...): ms from 1 to MAX_TIMEOUT_MS. */
export function validTimeout(value: unknown): number {
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new RangeError(`a timeout must be a number of ms from 1 to ${MAX_TIMEOUT_MS}, got ${String(value)}`);
  }
  return value;
}

/**
 * A call timeout (`timeout` option, `$timeout`): ms from 1 to MAX_TIMEOUT_MS, or 0 or Infinity
 * for none (Pyro's default). "None" is kept as Infinity, so bounds like Math.min(timeout, x)
 * and deadlines like timeout - elapsed stay right; no timer is ever armed with it.
 */
export function validCallTimeout(value: unknown): number {
  if (value === 0 || value === Infinity) return Infinity;
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new RangeError(`a call timeout must be a number of ms from 1 to ${MAX_TIMEOUT_MS}, or 0 or Infinity for none, got ${String(value)}`);
  }
  return value;
}

/**
 * Builds the ES Proxy behind `Remote<T>`. Members are checked against the metadata
 * fetched on connect, so a typo fails here with UnknownMemberError instead of on the wire.
 */
export function createProxy<T>(state: ProxyState): Remote<T> {
  let closed = false;
  let closing: Promise<void> | undefined;
  // The token of the lock this proxy holds, as far as it knows; sent with its calls, gets and sets.
  let lockToken: string | undefined;
  const lockLost = new Signal<[reason: LockLostReason]>();
  const loseLock = (reason: LockLostReason): void => {
    if (lockToken === undefined) return;
    lockToken = undefined;
    lockLost.emit(reason);
  };
  /** A request sent with `token` refused with LockedError: the daemon no longer holds that lock for us. */
  const refusedLock = <R>(token: string | undefined, reply: Promise<R>): Promise<R> =>
    token === undefined
      ? reply
      : reply.catch((error: unknown) => {
        if (error instanceof LockedError && lockToken === token) loseLock("refused");
        throw error;
      });
  const onReset = (): void => loseLock("reset");
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const signals = new Map<string, ProxySignal>();
  // Streams of this proxy's calls still open: $close() stops them.
  const streams: StreamOwner = new Set();
  const oneway = () => new Set(state.metadata.oneway);
  let onewaySet = oneway();
  const link = new Relocation(state.connection, {
    relocator: state.relocator,
    timeout: () => state.timeout,
    moved: async ({ connection, metadata }) => {
      state.metadata = metadata;
      onewaySet = oneway();
      // A lock belongs to the daemon left behind.
      loseLock("moved");
      previousChannel.reset.disconnect(onReset);
      previousChannel = connection.channel;
      connection.channel.reset.connect(onReset);
      await Promise.all([...signals.values()].map((signal) => signal.moveTo(connection.channel, connection.objectId, connection.uri)));
    },
  });
  let previousChannel = state.connection.channel;
  previousChannel.reset.connect(onReset);
  // Lost, the connection comes back with a new routing id: the daemon drops the old one's locks.
  link.connectionChanged.connect((connected) => {
    if (!connected) loseLock("disconnected");
  });
  const uri = (): string => link.current.uri;
  const closedError = (): ConnectionClosedError => new ConnectionClosedError(`proxy for ${uri()} is closed`);

  const guard = (): void => {
    if (closed) throw closedError();
  };
  /** Sends on the connection to use: at once when connected, else once there is one again, within the call's timeout. */
  const send = <R>(request: (connection: Connection, timeoutMs: number) => Promise<R>): Promise<R> => {
    if (closed) return Promise.reject(closedError());
    const timeout = state.timeout;
    const ready = link.usable(timeout);
    if (!(ready instanceof Promise)) return request(ready, timeout);
    const since = Date.now();
    return ready.then((connection) => request(connection, Math.max(1, timeout - (Date.now() - since))));
  };
  const call = (member: string, args: unknown[]): Promise<unknown> =>
    iterableReply(
      send((c, timeout) => {
        const token = lockToken;
        return refusedLock(token, c.channel.invoke(c.objectId, member, args, timeout, onewaySet.has(member), token, streams));
      }),
      uri,
      member,
    );
  const method = (member: string): ((...args: unknown[]) => Promise<unknown>) => {
    let fn = methods.get(member);
    if (!fn) {
      fn = (...args: unknown[]) => call(member, args);
      methods.set(member, fn);
    }
    return fn;
  };
  // Lazy: the attribute is read only when awaited.
  const attribute = (member: string): PromiseLike<unknown> => ({
    then(onFulfilled, onRejected) {
      return send((c, timeout) => {
        const token = lockToken;
        return refusedLock(token, c.channel.get(c.objectId, member, timeout, token));
      }).then(onFulfilled, onRejected);
    },
  });
  const controls: Record<string, unknown> = {
    $set: async (name: string, value: unknown): Promise<void> => {
      guard();
      if (!state.metadata.writable.includes(name)) {
        throw new UnknownMemberError(`${uri()} has no writable attribute ${JSON.stringify(name)} (writable: ${state.metadata.writable.join(", ") || "none"})`);
      }
      await send((c, timeout) => {
        const token = lockToken;
        return refusedLock(token, c.channel.set(c.objectId, name, value, timeout, token));
      });
    },
    $meta: async (): Promise<ObjectMetadata> => {
      guard();
      state.metadata = await send((c, timeout) => fetchMetadata(c.channel, c.objectId, timeout));
      onewaySet = oneway();
      return state.metadata;
    },
    $lock: async (owner: string = defaultOwner()): Promise<void> => {
      guard();
      // Locking again while holding the lock keeps the token (harmless, as before).
      const token = lockToken ?? newLockToken();
      await send((c, timeout) => c.channel.invoke(DAEMON_OBJECT_ID, "lock", [c.objectId, owner, token], timeout));
      lockToken = token;
    },
    $unlock: async (): Promise<void> => {
      guard();
      // Without a token the daemon only refuses when another proxy holds the lock.
      const token = lockToken;
      await send((c, timeout) => c.channel.invoke(DAEMON_OBJECT_ID, "unlock", token === undefined ? [c.objectId] : [c.objectId, token], timeout));
      if (lockToken === token) lockToken = undefined;
    },
    $close: (): Promise<void> =>
      (closing ??= (async () => {
        // First: no move may start while the rest is given back.
        await link.close();
        const { channel, objectId, release } = link.current;
        const bound = Math.min(state.timeout, CLOSE_UNSUBSCRIBE_TIMEOUT_MS);
        channel.reset.disconnect(onReset);
        for (const stream of [...streams]) await stream.deref()?.close();
        // The connection may outlive this proxy (shared): give back the lock it holds, only its own.
        const token = lockToken;
        lockToken = undefined;
        if (token !== undefined) await channel.invoke(DAEMON_OBJECT_ID, "unlock", [objectId, token], bound).catch(() => {});
        // Bounded: a daemon that is gone drops our subscriptions by itself.
        for (const signal of signals.values()) await signal.disconnectAll(bound);
        closed = true;
        await release();
      })()),
  };

  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === "symbol") {
        return prop === inspect.custom ? () => `Remote<${uri()}>` : undefined;
      }
      switch (prop) {
        case "then":
        case "toJSON":
          return undefined;
        case "$uri":
          return uri();
        case "$connectionChanged":
          return link.connectionChanged;
        case "$lockLost":
          return lockLost;
        case "$timeout":
          return state.timeout;
      }
      if (Object.hasOwn(controls, prop)) return controls[prop];
      if (state.metadata.methods.includes(prop)) return method(prop);
      if (state.metadata.attributes.includes(prop)) return attribute(prop);
      if (state.metadata.signals.includes(prop)) {
        guard();
        let signal = signals.get(prop);
        if (!signal) {
          signal = new ProxySignal(link.current.channel, link.current.objectId, prop, () => state.timeout, () => link.usable(state.timeout));
          signals.set(prop, signal);
        }
        return signal;
      }
      throw new UnknownMemberError(
        `${uri()} has no exposed member ${JSON.stringify(prop)} (methods: ${state.metadata.methods.join(", ") || "none"}; attributes: ${state.metadata.attributes.join(", ") || "none"}; signals: ${state.metadata.signals.join(", ") || "none"})`,
      );
    },
    set(_target, prop, value) {
      if (prop === "$timeout") {
        state.timeout = validCallTimeout(value);
        return true;
      }
      throw new TypeError(`cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`);
    },
    has(_target, prop) {
      return typeof prop === "string" && (Object.hasOwn(controls, prop) || prop === "$uri" || prop === "$timeout" || prop === "$connectionChanged" || prop === "$lockLost" || state.metadata.methods.includes(prop) || state.metadata.attributes.includes(prop) || state.metadata.signals.includes(prop));
    },
  };
  return new Proxy({}, handler) as Remote<T>;
}
