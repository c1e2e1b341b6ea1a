import { afterEach, beforeEach } from "vitest";
import { connect, Daemon, type ConnectOptions, type DaemonOptions, type Remote } from "../src/index.js";

type Closer = () => Promise<unknown>;

/** Daemons and proxies opened by a test, closed after it whatever happened. */
export function resources() {
  const closers: Closer[] = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!().catch(() => {});
  });
  return {
    /** A started daemon on 127.0.0.1 with a free port. */
    async daemon(options: DaemonOptions = {}): Promise<Daemon> {
      const daemon = new Daemon({ host: "127.0.0.1", port: 0, ...options });
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
