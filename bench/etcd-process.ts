/**
 * One real etcd for the benchmarks: the `etcd` binary on 127.0.0.1, free ports, a temporary
 * data directory, removed again by `stop()`. It mirrors test/etcd/etcd-server.ts, which the
 * bench cannot import (that module registers vitest hooks). Unlike the tests, etcd keeps its
 * fsync here: the figures are meant to show what a nameserver on etcd costs as deployed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ETCD_INSTALL_HINT = "install it with `apt-get install etcd-server` (Debian/Ubuntu) or a release binary from https://etcd.io/docs/latest/install/";

/** The installed etcd's version line, or undefined when there is no `etcd` binary. */
export function etcdVersion(): string | undefined {
  const result = spawnSync("etcd", ["--version"], { encoding: "utf8", timeout: 5000 });
  if (result.status !== 0) return undefined;
  return /etcd Version: (\S+)/.exec(result.stdout)?.[1] ?? "unknown";
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every etcd this process started and has not stopped: killed if the bench exits without its cleanup. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A single-member etcd on loopback. */
export class EtcdProcess {
  #output = "";

  private constructor(
    readonly endpoint: string,
    readonly dataDir: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
  }

  /** Starts etcd and resolves once it reports itself healthy; on failure nothing is left behind. */
  static async start(timeoutMs = 15_000): Promise<EtcdProcess> {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-bench-etcd-"));
    const child = spawn(
      "etcd",
      [
        "--name=bench",
        `--data-dir=${join(dir, "data")}`,
        `--listen-client-urls=http://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=bench=http://127.0.0.1:${peerPort}`,
        `--initial-cluster-token=pyro-ts-bench-${process.pid}-${clientPort}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=error",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    running.add(child);
    child.once("exit", () => running.delete(child));
    const etcd = new EtcdProcess(`127.0.0.1:${clientPort}`, dir, child);
    try {
      await etcd.#healthy(timeoutMs);
      return etcd;
    } catch (error) {
      await etcd.stop();
      throw error;
    }
  }

  get #running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async #healthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.#running) throw new Error(`etcd exited: ${this.#output}`);
      try {
        const response = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        if (((await response.json()) as { health?: string }).health === "true") return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`etcd not healthy within ${timeoutMs} ms: ${this.#output}`);
  }

  /** Stops etcd (SIGTERM, SIGKILL after 5 s) and removes its data directory. */
  async stop(): Promise<void> {
    if (this.#running) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
