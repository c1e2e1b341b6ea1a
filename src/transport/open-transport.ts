/** Makes a daemon's or a proxy's transport of the kind asked for, secured as asked. */
import type { OutFrame } from "../protocol/frames.js";
import { ClientSocket, type ClientCurve } from "./client-socket.js";
import type { ResolvedTransportOptions } from "./options.js";
import { ServerSocket, type ServerCurve } from "./server-socket.js";
import { TcpClient, type ClientTls } from "./tcp/tcp-client.js";
import { TcpServer, type ServerTls } from "./tcp/tcp-server.js";
import type { ClientTransport, ClientTransportEvents, ServerTransport, TransportKind } from "./transport.js";

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
export function dial(kind: TransportKind, endpoint: string, options: ResolvedTransportOptions, events: ClientTransportEvents, batch?: (messages: OutFrame[][]) => OutFrame[], security: ClientSecurity = {}): ClientTransport {
  checkSecurity(kind, security);
  return kind === "zmq" ? new ClientSocket(endpoint, options, events, batch, security.curve) : new TcpClient(endpoint, options, events, security.tls);
}
