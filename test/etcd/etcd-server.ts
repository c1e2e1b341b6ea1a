/**
 * Real etcd servers for tests: Debian's `etcd` on 127.0.0.1 with free ports and a temporary
 * data directory, started, killed, restarted (same directory and ports) and removed again.
 * Every wait is bounded; everything a harness started is stopped and deleted after each test.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterEach } from "vitest";
import { freePort } from "../host-processes.js";

/** Whether the `etcd` binary is installed (Debian: `apt-get install etcd-server`). */
export function etcdAvailable(): boolean {
  return spawnSync("etcd", ["--version"], { stdio: "ignore" }).status === 0;
}

export const INSTALL_HINT = "etcd is not installed: `apt-get install etcd-server` (Debian) to run the etcd storage tests";

/** One etcd member: its ports and data directory outlive its process, so it can be restarted as itself. */
export class EtcdMember {
  readonly endpoint: string;
  #process: ChildProcess | undefined;
  #output = "";

  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    readonly initialCluster: string,
    readonly token: string,
  ) {
    this.endpoint = `127.0.0.1:${clientPort}`;
  }

  get running(): boolean {
    return this.#process !== undefined && this.#process.exitCode === null && this.#process.signalCode === null;
  }

  /** Starts the process (again, on the same directory and ports); does not wait for health. */
  start(): void {
    if (this.running) return;
    const child = spawn(
      "etcd",
      [
        `--name=${this.name}`,
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=http://127.0.0.1:${this.clientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${this.clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${this.peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${this.peerPort}`,
        `--initial-cluster=${this.initialCluster}`,
        `--initial-cluster-token=${this.token}`,
        "--initial-cluster-state=new",
        "--logger=zap",
        "--log-level=error",
        // A killed process is no power loss: the page cache keeps what etcd acknowledged.
        "--unsafe-no-fsync",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    running.add(child);
    child.once("exit", () => running.delete(child));
    this.#process = child;
  }

  /** Waits until the member reports itself healthy (it has a leader); fails with its output after `timeoutMs`. */
  async healthy(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`etcd ${this.name} exited: ${this.#output}`);
      try {
        const response = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await response.json()) as { health?: string };
        if (body.health === "true") return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`etcd ${this.name} not healthy within ${timeoutMs} ms: ${this.#output}`);
  }

  /** Kills the process (SIGKILL by default) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.#process;
    if (!child || !this.running) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`etcd ${this.name} survived ${signal}`)), 5000))]);
  }

  async restart(): Promise<void> {
    await this.kill();
    this.start();
    await this.healthy();
  }
}

/** Every member running in this process, killed if the test process exits without its cleanup. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** The etcd members one test started; all killed and their directories removed after the test. */
export class EtcdHarness {
  readonly #members: EtcdMember[] = [];
  readonly #dirs: string[] = [];
  readonly #clients: Etcd3[] = [];

  /** A single-member etcd, healthy. */
  async single(): Promise<EtcdMember> {
    const [member] = await this.cluster(1);
    return member!;
  }

  /** An n-member cluster on loopback, every member healthy. */
  async cluster(size: number): Promise<EtcdMember[]> {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-etcd-"));
    this.#dirs.push(dir);
    const ports: { client: number; peer: number }[] = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
    const token = `pyro-ts-${process.pid}-${ports[0]!.client}`;
    const members = ports.map((p, i) => new EtcdMember(`m${i}`, p.client, p.peer, join(dir, `m${i}`), initial, token));
    this.#members.push(...members);
    for (const member of members) member.start();
    await Promise.all(members.map((member) => member.healthy()));
    return members;
  }

  /** A raw etcd client (closed after the test), for what a nameserver never does: compaction, bad data. */
  client(members: readonly EtcdMember[]): Etcd3 {
    const client = new Etcd3({ hosts: members.map((member) => `http://${member.endpoint}`) });
    this.#clients.push(client);
    return client;
  }

  /** Compacts the history up to the current revision, as etcd's auto-compaction would; returns that revision. */
  async compact(members: readonly EtcdMember[]): Promise<number> {
    const client = this.client(members);
    const { header } = await client.kv.range({ key: Buffer.from("/") });
    await client.kv.compact({ revision: header.revision, physical: true });
    return Number(header.revision);
  }

  /** The member that leads the cluster now. */
  async leader(members: readonly EtcdMember[]): Promise<EtcdMember> {
    for (const member of members.filter((m) => m.running)) {
      const status = await this.client([member]).maintenance.status();
      if (status.leader === status.header.member_id) return member;
    }
    throw new Error("no etcd member leads");
  }

  async cleanup(): Promise<void> {
    for (const client of this.#clients.splice(0)) client.close();
    await Promise.all(this.#members.splice(0).map((member) => member.kill().catch(() => {})));
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** A harness cleaned up after every test of the file, whatever happened. */
export function etcdHarness(): EtcdHarness {
  const harness = new EtcdHarness();
  afterEach(() => harness.cleanup());
  return harness;
}
