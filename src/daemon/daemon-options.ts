import type { TransportOptions } from "../transport/options.js";
import type { ListenOptions } from "./listeners.js";

/** Everything a daemon can be told; where and how it listens is in ListenOptions. */
export interface DaemonOptions extends TransportOptions, ListenOptions {
  /**
   * How long close() waits for calls in progress, in ms (then they are answered with a
   * DaemonError), and again for session/single instances to be disposed. Default 10000.
   */
  readonly closeTimeout?: number;
  /** Unacknowledged signal events per connection before further events queue. Default 1000. */
  readonly eventWindow?: number;
  /** Events queued per connection before the oldest are dropped (and counted). Default 10000. */
  readonly maxQueuedEvents?: number;
  /** Calls one connection may have in progress (methods still running); more are refused. Default 10000. */
  readonly maxCallsPerConnection?: number;
  /** Client connections served at once; a new one beyond this is refused. Default 10000. */
  readonly maxConnections?: number;
  /** Signal subscriptions one connection may hold. Default 1000. */
  readonly maxSubscriptionsPerConnection?: number;
  /**
   * Bytes sent to one connection and not yet confirmed received by its client, at most (one
   * message may always go while less than 4 MiB are unconfirmed). Past it, events and
   * stream items wait (events beyond maxQueuedEvents are dropped and counted), and a reply
   * becomes a LimitExceededError. Default 64 MiB, at most 1 GiB.
   */
  readonly maxOutgoingBytes?: number;
  /** Streams (methods returning generators or async iterables) one connection may have open. Default 100. */
  readonly maxStreamsPerConnection?: number;
  /** Items of one stream sent and not yet consumed by the client, at most. Default 1024. */
  readonly streamWindow?: number;
  /** Bytes of one stream's items sent and not yet consumed, at most (one item always may be). Default 32 MiB. */
  readonly streamWindowBytes?: number;
  /**
   * Where the daemon reports what it cannot send back (failed oneway calls, an instance whose
   * dispose threw). Default: process warnings. Replies a closing daemon can no longer send are not reported.
   */
  readonly onError?: (error: unknown, context: string) => void;
}
