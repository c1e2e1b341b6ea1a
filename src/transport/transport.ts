/**
 * The seam between the daemon and proxy layers and the sockets: both transports (ZeroMQ and
 * plain TCP) move frame arrays with a peer identity behind these two small interfaces, and
 * nothing above this layer knows which one runs. (Types only: open-transport.ts makes them.)
 */
import type { OutFrame } from "../protocol/frames.js";
import type { SecurityError } from "../errors.js";

/** Which transport: ZeroMQ (the default; CURVE, federation's sockets) or a direct TCP connection (lower latency). */
export type TransportKind = "zmq" | "tcp";

export const TRANSPORT_KINDS: readonly TransportKind[] = ["zmq", "tcp"];

/**
 * Told once a message was handed to the socket (`error` undefined) or could not be (the
 * connection is closed or down). An object rather than a promise: a call already has one
 * (its pending entry), so sending allocates nothing more.
 */
export interface SendReceipt {
  sent(error: Error | undefined): void;
}

/**
 * Receives one message: the peer's identity (stable for the connection), the same as a latin1
 * string (`peerId`, made once per connection where the transport can, to key maps by), and the
 * frames after it. Returns true when the message started work that answers from a promise
 * callback (an async method), so a transport can let that run before it waits for more.
 */
export type ServerMessageHandler = (peer: Buffer, peerId: string, frames: Buffer[]) => boolean | void;

/** A peer's connection ended: its identity, and the same as a latin1 string. */
export type ServerDisconnectHandler = (peer: Buffer, peerId: string) => void;

/** A daemon's side: many peers. */
export interface ServerTransport {
  /** The bound endpoint, `tcp://host:port` with the real port or `ipc://path`; a TCP transport on port 0 knows it once `ready`. */
  readonly endpoint: string;
  /** Resolves once listening; rejects with DaemonError when it cannot (the port is taken). */
  readonly ready: Promise<void>;
  /** Starts delivering messages (`handler` must not throw); `onDisconnect`, when the transport can tell, names a peer whose connection ended. */
  start(handler: ServerMessageHandler, onDisconnect?: ServerDisconnectHandler): void;
  /** Sends to one peer; to a peer that is gone the message is dropped (no error). */
  send(peer: Uint8Array, frames: OutFrame[], receipt?: SendReceipt): void;
  /** Lets the last messages leave (bounded), then closes; resolves once the endpoint can be bound again. */
  close(): Promise<void>;
}

/** A proxy's side: one connection to one daemon, re-established after a loss. */
export interface ClientTransport {
  readonly connected: boolean;
  send(frames: OutFrame[], receipt?: SendReceipt): void;
  close(): Promise<void>;
}

/** What a client transport tells its channel. */
export interface ClientTransportEvents {
  /** The handshake with the daemon completed (ZMTP, or the TCP greeting): messages can flow. */
  onConnect(): void;
  /** The connection was lost (peer closed, died, or missed heartbeats); the transport reconnects by itself. */
  onDisconnect(): void;
  onMessage(frames: Buffer[]): void;
  /** The daemon or this client was refused: wrong key or fingerprint, an unauthorized client, security on one side only. */
  onSecurityError(error: SecurityError): void;
  /** Connecting failed and no connection ever reached the endpoint (nothing listens there); the transport retries. */
  onConnectFailed(): void;
}
