/**
 * A real etcd on a lab host (test/netns/lab-network.ts): Debian's `etcd` run inside the
 * host's network namespace, listening on the host's 198.18.x address, so the lab's other
 * hosts reach it across the switch like a server on another subnet, and nothing outside
 * the lab does. Read from inside the lab too (test/fixtures/etcd-range.ts). Every wait is
 * bounded; stop() kills it and removes its data directory (destroying the lab kills it too).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LabNetwork } from "../netns/lab-network.js";

/** The compiled reader (build first), relative to this file in test/etcd/. */
export const ETCD_RANGE = fileURLToPath(new URL("../../dist/test/fixtures/etcd-range.js", import.meta.url));
export const ETCD_CLIENT_PORT = 2379;

/** A key as the lab reads it. */
export interface LabKey {
  readonly key: string;
  readonly value: string;
  readonly lease: string;
}

export class LabEtcd {
  readonly endpoint: string;
  #output = "";

  private constructor(
    readonly lab: LabNetwork,
    readonly host: string,
    readonly process: ChildProcess,
    readonly dataDir: string,
  ) {
    this.endpoint = `${lab.host(host).address}:${ETCD_CLIENT_PORT}`;
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    process.stdout!.on("data", keep);
    process.stderr!.on("data", keep);
  }

  /** Starts etcd on `host` and waits (10 s at most) until it is healthy. */
  static async start(lab: LabNetwork, host: string): Promise<LabEtcd> {
    const { namespace, address } = lab.host(host);
    const dataDir = mkdtempSync(join(tmpdir(), "pyro-ts-lab-etcd-"));
    const child = spawn(
      "ip",
      [
        ...["netns", "exec", namespace, "etcd"],
        "--name=lab",
        `--data-dir=${dataDir}`,
        `--listen-client-urls=http://${address}:${ETCD_CLIENT_PORT}`,
        `--advertise-client-urls=http://${address}:${ETCD_CLIENT_PORT}`,
        // Peers on the host's own loopback: a single member never talks to another.
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=lab=http://127.0.0.1:2380",
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=error",
        "--unsafe-no-fsync",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const etcd = new LabEtcd(lab, host, child, dataDir);
    try {
      await etcd.#healthy(10_000);
    } catch (error) {
      await etcd.stop();
      throw error;
    }
    return etcd;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Every key under `prefix`, read from `from` (a lab host). */
  async range(prefix: string, from = this.host): Promise<LabKey[]> {
    const result = await this.lab.exec(from, [process.execPath, ETCD_RANGE, "range", this.endpoint, prefix], 5000);
    if (result.code !== 0) throw new Error(`reading ${prefix} from etcd on ${this.host}: exit ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as LabKey[];
  }

  /** Kills etcd (bounded) and removes its data. */
  async stop(): Promise<void> {
    if (this.running) {
      const exited = once(this.process, "exit");
      this.process.kill("SIGKILL");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async #healthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`etcd on ${this.host} exited: ${this.#output}`);
      const probe = await this.lab.exec(this.host, [process.execPath, ETCD_RANGE, "health", this.endpoint], 3000);
      if (probe.code === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`etcd on ${this.host} not healthy within ${timeoutMs} ms: ${this.#output}`);
  }
}
