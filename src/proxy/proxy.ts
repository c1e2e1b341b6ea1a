import { hostname, userInfo } from "node:os";
import { inspect } from "node:util";
import { ConnectionClosedError, UnknownMemberError } from "../errors.js";
import { DAEMON_OBJECT_ID, type ObjectMetadata } from "../protocol/metadata.js";
import type { Channel } from "./channel.js";
import { ProxySignal } from "./remote-signal.js";
import type { Remote } from "./remote.js";

const CLOSE_UNSUBSCRIBE_TIMEOUT_MS = 1000;

/** Names the lock holder in other clients' LockedError: user, host and process. */
function defaultOwner(): string {
  return `${userInfo().username}@${hostname()} (pid ${process.pid})`;
}

export interface ProxyState {
  readonly uri: string;
  readonly objectId: string;
  readonly channel: Channel;
  metadata: ObjectMetadata;
  timeout: number;
  /** Gives the channel back; called once. */
  readonly release: () => Promise<void>;
}

/** Fetches an object's metadata through the daemon object. */
export async function fetchMetadata(channel: Channel, objectId: string, timeout: number): Promise<ObjectMetadata> {
  return (await channel.invoke(DAEMON_OBJECT_ID, "metadata", [objectId], timeout)) as ObjectMetadata;
}

/** The longest delay a Node timer can wait; beyond it Node fires at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export function validTimeout(value: unknown): number {
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new RangeError(`a timeout must be a number of ms from 1 to ${MAX_TIMEOUT_MS}, got ${String(value)}`);
  }
  return value;
}

/**
 * Builds the ES Proxy behind `Remote<T>`. Members are checked against the metadata
 * fetched on connect, so a typo fails here with UnknownMemberError instead of on the wire.
 */
export function createProxy<T>(state: ProxyState): Remote<T> {
  let closed = false;
  let locked = false;
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const signals = new Map<string, ProxySignal>();
  const oneway = () => new Set(state.metadata.oneway);
  let onewaySet = oneway();

  const guard = (): void => {
    if (closed) throw new ConnectionClosedError(`proxy for ${state.uri} is closed`);
  };
  const call = (member: string, args: unknown[]): Promise<unknown> => {
    if (closed) return Promise.reject(new ConnectionClosedError(`proxy for ${state.uri} is closed`));
    return state.channel.invoke(state.objectId, member, args, state.timeout, onewaySet.has(member));
  };
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
      const read = closed
        ? Promise.reject(new ConnectionClosedError(`proxy for ${state.uri} is closed`))
        : state.channel.get(state.objectId, member, state.timeout);
      return read.then(onFulfilled, onRejected);
    },
  });
  const controls: Record<string, unknown> = {
    $set: async (name: string, value: unknown): Promise<void> => {
      guard();
      if (!state.metadata.writable.includes(name)) {
        throw new UnknownMemberError(`${state.uri} has no writable attribute ${JSON.stringify(name)} (writable: ${state.metadata.writable.join(", ") || "none"})`);
      }
      await state.channel.set(state.objectId, name, value, state.timeout);
    },
    $meta: async (): Promise<ObjectMetadata> => {
      guard();
      state.metadata = await fetchMetadata(state.channel, state.objectId, state.timeout);
      onewaySet = oneway();
      return state.metadata;
    },
    $lock: async (owner: string = defaultOwner()): Promise<void> => {
      guard();
      await state.channel.invoke(DAEMON_OBJECT_ID, "lock", [state.objectId, owner], state.timeout);
      locked = true;
    },
    $unlock: async (): Promise<void> => {
      guard();
      await state.channel.invoke(DAEMON_OBJECT_ID, "unlock", [state.objectId], state.timeout);
      locked = false;
    },
    $close: async (): Promise<void> => {
      if (closed) return;
      // The connection may outlive this proxy (shared): give its lock back now.
      if (locked) await state.channel.invoke(DAEMON_OBJECT_ID, "unlock", [state.objectId], Math.min(state.timeout, CLOSE_UNSUBSCRIBE_TIMEOUT_MS)).catch(() => {});
      // Bounded: a daemon that is gone drops our subscriptions by itself.
      for (const signal of signals.values()) await signal.disconnectAll(Math.min(state.timeout, CLOSE_UNSUBSCRIBE_TIMEOUT_MS));
      closed = true;
      await state.release();
    },
  };

  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (typeof prop === "symbol") {
        return prop === inspect.custom ? () => `Remote<${state.uri}>` : undefined;
      }
      switch (prop) {
        case "then":
        case "toJSON":
          return undefined;
        case "$uri":
          return state.uri;
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
          signal = new ProxySignal(state.channel, state.objectId, prop, () => state.timeout);
          signals.set(prop, signal);
        }
        return signal;
      }
      throw new UnknownMemberError(
        `${state.uri} has no exposed member ${JSON.stringify(prop)} (methods: ${state.metadata.methods.join(", ") || "none"}; attributes: ${state.metadata.attributes.join(", ") || "none"}; signals: ${state.metadata.signals.join(", ") || "none"})`,
      );
    },
    set(_target, prop, value) {
      if (prop === "$timeout") {
        state.timeout = validTimeout(value);
        return true;
      }
      throw new TypeError(`cannot assign ${String(prop)} on a proxy: use await proxy.$set(${JSON.stringify(String(prop))}, value)`);
    },
    has(_target, prop) {
      return typeof prop === "string" && (Object.hasOwn(controls, prop) || prop === "$uri" || prop === "$timeout" || state.metadata.methods.includes(prop) || state.metadata.attributes.includes(prop) || state.metadata.signals.includes(prop));
    },
  };
  return new Proxy({}, handler) as Remote<T>;
}
