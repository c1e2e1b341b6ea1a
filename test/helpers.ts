import { afterEach, beforeEach, describe } from "vitest";
import { connect, Daemon, type ConnectOptions, type DaemonOptions, type Remote } from "../src/index.js";
import type { TransportKind } from "../src/transport/transport.js";

type Closer = () => Promise<unknown>;

export type { TransportKind };

/** Both transports a daemon serves over, ZeroMQ (the default) first. */
export const TRANSPORTS = ["zmq", "tcp"] as const satisfies readonly TransportKind[];

/**
 * Daemons and proxies opened by a test, closed after it whatever happened. `transport` is
 * the one `daemon()` serves over unless its options say otherwise (default ZeroMQ); the
 * proxies follow the URIs.
 */
export function resources(transport: TransportKind = "zmq") {
  const closers: Closer[] = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!().catch(() => {});
  });
  return {
    transport,
    /** A started daemon on 127.0.0.1 with a free port. */
    async daemon(options: DaemonOptions = {}): Promise<Daemon> {
      const daemon = new Daemon({ host: "127.0.0.1", port: 0, transport, ...options });
      closers.push(() => daemon.close());
      await daemon.start();
      return daemon;
    },
    async connect<T>(uri: string, options?: ConnectOptions): Promise<Remote<T>> {
      const proxy = await connect<T>(uri, options);
      closers.push(() => proxy.$close());
      return proxy;
    },
    /** Registers anything else to close after the test. */
    onCleanup(closer: Closer): void {
      closers.push(closer);
    },
  };
}

export type Resources = ReturnType<typeof resources>;

/**
 * Runs a suite once per transport, inside `describe("over zmq" | "over tcp")`, with its own
 * `resources(transport)`: `forEachTransport((use, transport) => { describe(...); it(...) })`.
 */
export function forEachTransport(suite: (use: Resources, transport: TransportKind) => void): void {
  describe.each(TRANSPORTS)("over %s", (transport) => suite(resources(transport), transport));
}

/** What a URI of a daemon over `transport` ends with: `?transport=tcp` over TCP, nothing over ZeroMQ. */
export function uriSuffix(transport: TransportKind): string {
  return transport === "tcp" ? "?transport=tcp" : "";
}

/** The process warnings emitted during each test of the file, as `name: message` (emptied before each). */
export function processWarnings(): readonly string[] {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  beforeEach(() => {
    warnings.length = 0;
    process.on("warning", onWarning);
  });
  afterEach(() => void process.off("warning", onWarning));
  return warnings;
}
