/**
 * The messages of the pyro-ts wire protocol, as a discriminated union on `kind`.
 * Frames and encoding are in frames.ts; the full description is docs/protocol.md.
 */

export const PROTOCOL_VERSION = 2;

/** A value as the codec produced it: JSON-safe data plus superjson's type annotations. */
export interface SerializedValue {
  readonly json: unknown;
  readonly meta?: unknown;
}

/** A value with the binary frames its `json` refers to. */
export interface Payload {
  readonly value: SerializedValue;
  readonly attachments: readonly Uint8Array[];
}

/** The attachments of a value that has none: one shared array, never written. */
export const NO_ATTACHMENTS: readonly Uint8Array[] = Object.freeze([]);

/**
 * A lock is held by one proxy, not by the shared connection: the proxy's random token rides
 * on its call, get and set messages (flag bit 1). Absent: the sender holds no lock.
 */
export const LOCK_TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export function isLockToken(value: unknown): value is string {
  return typeof value === "string" && LOCK_TOKEN_PATTERN.test(value);
}

/** Client → daemon: call a method. */
export interface CallMessage {
  readonly kind: "call";
  readonly id: number;
  readonly oneway: boolean;
  readonly object: string;
  readonly member: string;
  /** Serialized array of arguments. */
  readonly args: Payload;
  /** Lock token of the calling proxy, when it holds the object's lock. */
  readonly lock?: string | undefined;
}

/** Client → daemon: read an attribute. */
export interface GetMessage {
  readonly kind: "get";
  readonly id: number;
  readonly object: string;
  readonly member: string;
  readonly lock?: string | undefined;
}

/** Client → daemon: write an attribute. */
export interface SetMessage {
  readonly kind: "set";
  readonly id: number;
  readonly object: string;
  readonly member: string;
  readonly value: Payload;
  readonly lock?: string | undefined;
}

/** Daemon → client: the result of call, get or set `id`. */
export interface ResultMessage {
  readonly kind: "result";
  readonly id: number;
  readonly value: Payload;
}

/** Daemon → client: request `id` failed; the value is an error envelope (codec/error-envelope.ts). */
export interface ErrorMessage {
  readonly kind: "error";
  readonly id: number;
  readonly value: Payload;
}

/** Client → daemon: "this connection is alive", sent when idle so the daemon can drop dead peers. */
export interface HeartbeatMessage {
  readonly kind: "heartbeat";
  readonly id: 0;
}

/** Client → daemon: deliver `signal` of `object` to this connection from now on; answered with a result. */
export interface SubscribeMessage {
  readonly kind: "subscribe";
  readonly id: number;
  readonly object: string;
  readonly signal: string;
}

/** Client → daemon: stop delivering `signal` of `object`; answered with a result. */
export interface UnsubscribeMessage {
  readonly kind: "unsubscribe";
  readonly id: number;
  readonly object: string;
  readonly signal: string;
}

/**
 * Daemon → client: one emission of a subscribed signal. `id` is the connection's event
 * sequence number (1, 2, …); `dropped` counts this subscription's events discarded
 * since the previous one delivered (the subscriber was too slow).
 */
export interface EventMessage {
  readonly kind: "event";
  readonly id: number;
  readonly object: string;
  readonly signal: string;
  readonly dropped: number;
  readonly args: Payload;
}

/** Client → daemon: events up to sequence number `id` were received (flow control). */
export interface AckMessage {
  readonly kind: "ack";
  readonly id: number;
}

/**
 * Daemon → client: the daemon had dropped this connection's state (subscriptions, session
 * instances) after hearing nothing from it for its heartbeat timeout. The client renews
 * its subscriptions and reports the gap.
 */
export interface ResetMessage {
  readonly kind: "reset";
  readonly id: 0;
}

/**
 * Daemon → client: the result of call `id` is a stream. Its items follow as `item` messages
 * with the same id, and a `result` (the generator's return value) or `error` with that id
 * ends it. The daemon keeps at most `window` items and `windowBytes` bytes of the stream
 * unacknowledged (always at least one item), so the client queues no more than that.
 */
export interface StreamMessage {
  readonly kind: "stream";
  readonly id: number;
  readonly window: number;
  readonly windowBytes: number;
}

/** Daemon → client: the next item of stream `id`. */
export interface ItemMessage {
  readonly kind: "item";
  readonly id: number;
  readonly value: Payload;
}

/** Client → daemon: `items` more items of stream `id` were consumed; each grants one more. */
export interface CreditMessage {
  readonly kind: "credit";
  readonly id: number;
  readonly items: number;
}

/** Client → daemon: the client is done with stream `id`; its generator is ended, nothing more is sent for it. */
export interface CancelMessage {
  readonly kind: "cancel";
  readonly id: number;
}

/** A client reports what it received at the latest when this many bytes are unreported… */
export const REPORT_EVERY_BYTES = 4 * 1024 * 1024;
/** …or this many messages. */
export const REPORT_EVERY_MESSAGES = 1000;

/**
 * Client → daemon: the bytes and messages received from the daemon on this connection so
 * far, both counted modulo 2^32 (each message's frames, batch headers excluded). The daemon
 * bounds what it sent and has not heard confirmed (docs/protocol.md, Outgoing bounds).
 */
export interface ReceivedMessage {
  readonly kind: "received";
  readonly id: 0;
  readonly bytes: number;
  readonly messages: number;
}

export type RequestMessage = CallMessage | GetMessage | SetMessage | SubscribeMessage | UnsubscribeMessage | HeartbeatMessage | AckMessage | CreditMessage | CancelMessage | ReceivedMessage;
export type ReplyMessage = ResultMessage | ErrorMessage;
export type Message = RequestMessage | ReplyMessage | EventMessage | ResetMessage | StreamMessage | ItemMessage;
export type MessageKind = Message["kind"];

/** Wire codes of the kinds; never reuse a retired code. */
export const KIND_CODES: Readonly<Record<MessageKind, number>> = {
  call: 1,
  get: 2,
  set: 3,
  result: 4,
  error: 5,
  heartbeat: 6,
  subscribe: 7,
  unsubscribe: 8,
  event: 9,
  ack: 10,
  reset: 11,
  // 12 is the batch header (frames.ts BATCH_CODE).
  stream: 13,
  item: 14,
  credit: 15,
  cancel: 16,
  received: 17,
};

/** One key per subscribed signal (an object id and signal name never contain NUL), as both ends keep them. */
export function subscriptionKey(object: string, signal: string): string {
  return `${object}\u0000${signal}`;
}

/** The object id and signal name of a subscription key. */
export function splitSubscriptionKey(key: string): [object: string, signal: string] {
  return key.split("\u0000") as [string, string];
}
