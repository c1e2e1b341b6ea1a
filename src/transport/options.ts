/** Socket settings shared by daemons and proxies. Every field has a default. */
export interface TransportOptions {
  /** Largest accepted message, all frames together, in bytes. Default 64 MiB. */
  readonly maxMessageSize?: number;
  /** ZMTP heartbeat period in ms, so a silent dead peer is noticed. Default 2000. */
  readonly heartbeatInterval?: number;
  /** A peer silent for this long (ms) is disconnected. Default 6000. */
  readonly heartbeatTimeout?: number;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
export const DEFAULT_HEARTBEAT_INTERVAL = 2000;
export const DEFAULT_HEARTBEAT_TIMEOUT = 6000;
/** Messages queued per peer before ZeroMQ drops (ROUTER) or waits (DEALER). */
export const HIGH_WATER_MARK = 100_000;

export interface ResolvedTransportOptions {
  readonly maxMessageSize: number;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
}

/** `value` (or `fallback` when undefined), checked to be a positive integer; RangeError naming the option otherwise. */
export function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

export function resolveTransportOptions(options: TransportOptions = {}): ResolvedTransportOptions {
  return {
    maxMessageSize: positiveInteger("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    heartbeatInterval: positiveInteger("heartbeatInterval", options.heartbeatInterval, DEFAULT_HEARTBEAT_INTERVAL),
    heartbeatTimeout: positiveInteger("heartbeatTimeout", options.heartbeatTimeout, DEFAULT_HEARTBEAT_TIMEOUT),
  };
}

/** Bytes one batch of small messages may carry: well below what the peer accepts (strings can triple in UTF-8). */
export function batchBudget(options: ResolvedTransportOptions): number {
  return Math.max(1, Math.min(64 * 1024, Math.floor(options.maxMessageSize / 4)));
}
