import { afterEach } from "vitest";
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
