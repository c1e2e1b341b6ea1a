/**
 * A raw connection to a daemon over either transport, for the tests that speak (broken)
 * protocol by hand: a zeromq.js DEALER over ZeroMQ, a RawTcpPeer (raw-tcp-peer.ts) over TCP.
 * Both send whatever frames they are given, reconnect by themselves after the daemon drops
 * them, count connections ("handshake") and losses ("disconnect"), and reject a receive that
 * timed out with code "EAGAIN".
 */
import { Dealer } from "zeromq";
import type { OutFrame } from "../src/protocol/frames.js";
import type { TransportKind } from "../src/transport/transport.js";
import { RawTcpPeer, type RawPeerEvent, type RawTcpPeerOptions } from "./raw-tcp-peer.js";
import { ConnectionEvents } from "./connection-events.js";

export type { RawPeerEvent };

export interface RawWire {
  readonly transport: TransportKind;
  readonly closed: boolean;
  /** Sends one message as it is (over ZeroMQ it waits at most `sendTimeout`). */
  send(frames: OutFrame[]): Promise<void>;
  /** The next message as received (a batch is not split); rejects with code EAGAIN after `timeoutMs` (undefined: wait for ever). */
  receive(timeoutMs?: number): Promise<Buffer[]>;
  events(event: RawPeerEvent): number;
  /** Waits until `event` has been seen more than `seen` times. */
  nextEvent(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void>;
  close(): void;
}

export interface RawWireOptions {
  /** ZeroMQ: the DEALER's sendTimeout (default: none). */
  readonly sendTimeout?: number;
  /** TCP: the raw peer's options. */
  readonly tcp?: RawTcpPeerOptions;
}

/** A raw connection to `endpoint` (tcp://host:port or ipc://path) over `transport`. */
export function rawWire(transport: TransportKind, endpoint: string, options: RawWireOptions = {}): RawWire {
  return transport === "tcp" ? new TcpWire(endpoint, options.tcp) : new ZmqWire(endpoint, options.sendTimeout);
}

class ZmqWire implements RawWire {
  readonly transport = "zmq";
  readonly dealer: Dealer;
  readonly #events = new ConnectionEvents();

  constructor(endpoint: string, sendTimeout?: number) {
    this.dealer = new Dealer({ linger: 0, reconnectInterval: 100, reconnectMaxInterval: 500, ...(sendTimeout !== undefined && { sendTimeout }) });
    // Observe before connecting, to count the first handshake.
    this.dealer.events.on("handshake", () => this.#count("handshake"));
    this.dealer.events.on("disconnect", () => this.#count("disconnect"));
    this.dealer.connect(endpoint);
  }

  get closed(): boolean {
    return this.dealer.closed;
  }

  #count(event: RawPeerEvent): void {
    this.#events.record(event);
  }

  events(event: RawPeerEvent): number {
    return this.#events.count(event);
  }

  nextEvent(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void> {
    return this.#events.next(event, seen, timeoutMs);
  }

  send(frames: OutFrame[]): Promise<void> {
    return this.dealer.send(frames);
  }

  receive(timeoutMs?: number): Promise<Buffer[]> {
    this.dealer.receiveTimeout = timeoutMs ?? -1;
    return this.dealer.receive();
  }

  close(): void {
    this.dealer.close();
  }
}

class TcpWire extends RawTcpPeer implements RawWire {
  readonly transport = "tcp";
}
