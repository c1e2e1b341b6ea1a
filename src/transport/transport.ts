/**
 * The seam between the daemon and proxy layers and the sockets: both transports (ZeroMQ and
 * plain TCP) move frame arrays with a peer identity behind these two small interfaces, and
 * nothing above this layer knows which one runs.
 */
import type { OutFrame } from "../protocol/frames.js";
import type { ClientCurve, ClientSocketEvents } from "./client-socket.js";
import { ClientSocket } from "./client-socket.js";
import type { ResolvedTransportOptions } from "./options.js";
import { ServerSocket, type ServerCurve } from "./server-socket.js";
import { TcpClient, type ClientTls } from "./tcp/tcp-client.js";
import { TcpServer, type ServerTls } from "./tcp/tcp-server.js";

/** Which transport: ZeroMQ (the default; CURVE, federation's sockets) or a direct TCP connection (lower latency). */
export type TransportKind = "zmq" | "tcp";

export const TRANSPORT_KINDS: readonly TransportKind[] = ["zmq", "tcp"];

/** Receives one message: the peer's identity (stable for the connection) and the frames after it. */
export type ServerMessageHandler = (peer: Buffer, frames: Buffer[]) => void;

/** A daemon's side: many peers. */
export interface ServerTransport {
  /** The bound endpoint, `tcp://host:port` with the real port or `ipc://path`; a TCP transport on port 0 knows it once `ready`. */
  readonly endpoint: string;
  /** Resolves once listening; rejects with DaemonError when it cannot (the port is taken). */
  readonly ready: Promise<void>;
  /** Starts delivering messages (`handler` must not throw); `onDisconnect`, when the transport can tell, names a peer whose connection ended. */
  start(handler: ServerMessageHandler, onDisconnect?: (peer: Buffer) => void): void;
  /** Sends to one peer; to a peer that is gone the message is dropped. */
  send(peer: Uint8Array, frames: OutFrame[]): Promise<void>;
  /** Lets the last messages leave (bounded), then closes; resolves once the endpoint can be bound again. */
  close(): Promise<void>;
}

/** A proxy's side: one connection to one daemon, re-established after a loss. */
export interface ClientTransport {
  readonly connected: boolean;
  send(frames: OutFrame[]): Promise<void>;
  close(): Promise<void>;
}

/** Encryption and peer authentication: CURVE on ZeroMQ, TLS on TCP. */
export interface ServerSecurity {
  readonly curve?: ServerCurve | undefined;
  readonly tls?: ServerTls | undefined;
}

export interface ClientSecurity {
  readonly curve?: ClientCurve | undefined;
  readonly tls?: ClientTls | undefined;
}

function checkSecurity(kind: TransportKind, security: ServerSecurity | ClientSecurity): void {
  if (kind === "zmq" && security.tls) throw new TypeError("TLS is for the TCP transport (ZeroMQ encrypts with CURVE)");
  if (kind === "tcp" && security.curve) throw new TypeError("CURVE is for the ZeroMQ transport (TCP encrypts with TLS)");
}

/** Binds a daemon's transport. `batch` joins several messages into one (ZeroMQ only: TCP writes of one tick leave together anyway). */
export function listen(kind: TransportKind, endpoint: string, options: ResolvedTransportOptions, batch?: (messages: OutFrame[][]) => OutFrame[], security: ServerSecurity = {}): ServerTransport {
  checkSecurity(kind, security);
  return kind === "zmq" ? new ServerSocket(endpoint, options, batch, security.curve) : new TcpServer(endpoint, options, security.tls);
}

/** Connects a proxy's transport to a daemon's endpoint. */
export function dial(kind: TransportKind, endpoint: string, options: ResolvedTransportOptions, events: ClientSocketEvents, batch?: (messages: OutFrame[][]) => OutFrame[], security: ClientSecurity = {}): ClientTransport {
  checkSecurity(kind, security);
  return kind === "zmq" ? new ClientSocket(endpoint, options, events, batch, security.curve) : new TcpClient(endpoint, options, events, security.tls);
}
