/**
 * Hosts on one machine for tests that cross a network: each host is a network namespace
 * joined by a veth pair to a bridge (the "switch") that lives in a namespace of its own,
 * as docs FEDERATION.md "Testing across hosts on one machine" describes.
 *
 *   pt<tag>sw (switch)                    pt<tag>h1 (host h1)
 *     pt<tag>b0  198.18.0.254/24 ── pt<tag>p1 ═ veth ═ pt<tag>h1  198.18.0.1/24, lo
 *     pt<tag>b1  198.18.1.254/24 ── pt<tag>p4 ═ veth ═ pt<tag>h4  198.18.1.4/24 (in pt<tag>h4)
 *
 * Host hN gets 198.18.<bridge>.N/24 (from the benchmarking range 198.18.0.0/15) with the
 * subnet's broadcast address, and a default route through the switch, which routes
 * between its bridges: unicast crosses from one bridge to another, broadcasts do not,
 * as on a LAN of two segments behind one router. Nothing is added to the machine's own
 * namespace (every link is created inside the lab's namespaces), so no lab traffic can
 * leave the machine. A random tag in every name keeps parallel and crashed runs apart.
 *
 * A partition is linkDown(host) (its switch port goes down); a host crash is crash(host)
 * (SIGKILL of everything running in it).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { forget, forgetFolder, removeAtExit, removeFolderAtExit, removeNamespaceSync } from "./exit-cleanup.js";
import { NodeChild } from "../node-child.js";
import { describeFailure, runCommand, runCommandSync, type CommandResult } from "./run-command.js";

/** The compiled CLI (build first): this file runs from test/netns/ (vitest) or dist/test/netns/ (the bench). */
export const CLI = fileURLToPath(new URL(import.meta.url.includes("/dist/test/") ? "../../cli/pyro-ts.js" : "../../dist/cli/pyro-ts.js", import.meta.url));

/** One simulated host. */
export interface LabHost {
  /** "h1", "h2", ... in the order given to create(). */
  readonly name: string;
  readonly namespace: string;
  readonly bridge: number;
  /** Its IPv4 address, 198.18.<bridge>.<n>. */
  readonly address: string;
  /** Its network interface, inside its namespace. */
  readonly hostLink: string;
  /** The other end of its veth: its port on the switch, inside the switch namespace. */
  readonly switchLink: string;
}

export interface LabOptions {
  /** The bridge of each host, in order: hosts are named h1, h2, ...; `[0, 0, 1]` puts h3 alone on a second bridge. */
  readonly hosts: readonly number[];
}

/** The switch's own address on every bridge, and each host's default gateway. */
const GATEWAY = 254;

/** Six random characters of [0-9a-z]: "pt" + tag + "h253" stays within Linux's 15-character link names. */
function randomTag(): string {
  return randomBytes(5).readUIntBE(0, 5).toString(36).padStart(6, "0").slice(-6);
}

/** Whether a namespace of that name exists (ip netns keeps one file per name there). */
function namespaceExists(namespace: string): boolean {
  return existsSync(join("/run/netns", namespace));
}

/**
 * Why network namespaces cannot be made here (not root, no `ip`, the kernel or sandbox
 * refuses namespaces, veths or bridges), or undefined when they can. Checked for real:
 * it makes and removes a probe namespace with a veth pair and a bridge in it.
 */
export function netnsAvailable(): string | undefined {
  return (availability ??= { reason: probeNetns() }).reason;
}

let availability: { reason: string | undefined } | undefined;

function probeNetns(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux, this is ${process.platform}`;
  const uid = process.getuid?.();
  if (uid !== 0) return `not running as root (uid ${uid}): creating network namespaces needs root`;
  const version = runCommandSync("ip", ["-V"]);
  if (version.code !== 0) return `no usable \`ip\` command (install iproute2): ${describeFailure(["ip", "-V"], version)}`;
  const probe = `pt${randomTag()}pr`;
  const steps = [
    ["netns", "add", probe],
    // Not "br" or "va": ip takes short words for its own keywords (br = broadcast).
    ["-n", probe, "link", "add", "probeva", "type", "veth", "peer", "name", "probevb"],
    ["-n", probe, "link", "add", "probebr", "type", "bridge"],
  ];
  try {
    for (const step of steps) {
      const result = runCommandSync("ip", step);
      if (result.code !== 0) return describeFailure(["ip", ...step], result);
    }
    return undefined;
  } finally {
    if (namespaceExists(probe)) removeNamespaceSync(probe);
  }
}

/** The environment of lab processes: none of the developer's pyro-ts settings, nothing written outside the lab. */
function labEnv(workDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: workDir };
  for (const key of ["PYRO_TS_NS", "PYRO_TS_CONFIG", "PYRO_TS_NS_KEY", "PYRO_TS_CURVE_SECRET"]) delete env[key];
  // vitest points discovery at loopback for tests in the machine's namespace; a lab host is
  // isolated, so it gets the defaults a real host would have.
  delete env.PYRO_TS_BROADCAST;
  return env;
}

/** A set of hosts on bridges; destroy() removes everything it made. */
export class LabNetwork {
  readonly switchNamespace: string;
  readonly hosts: readonly LabHost[];
  readonly #workDir: string;
  readonly #env: NodeJS.ProcessEnv;
  /** Namespaces that exist because of this lab, in creation order. */
  readonly #namespaces: string[] = [];
  readonly #processes: { readonly host: string; readonly child: NodeChild }[] = [];
  #destroyed: Promise<void> | undefined;

  private constructor(
    readonly tag: string,
    bridges: readonly number[],
  ) {
    this.switchNamespace = `pt${tag}sw`;
    this.hosts = bridges.map((bridge, i) => {
      const name = `h${i + 1}`;
      return {
        name,
        namespace: `pt${tag}${name}`,
        bridge,
        address: `198.18.${bridge}.${i + 1}`,
        hostLink: `pt${tag}${name}`,
        switchLink: `pt${tag}p${i + 1}`,
      };
    });
    this.#workDir = mkdtempSync(join(tmpdir(), `pyro-ts-lab-${tag}-`));
    removeFolderAtExit(this.#workDir);
    this.#env = labEnv(this.#workDir);
  }

  /** Builds the lab; on any failure, removes what was made so far and throws. */
  static async create(options: LabOptions): Promise<LabNetwork> {
    const { hosts } = options;
    if (hosts.length < 1 || hosts.length > GATEWAY - 1) throw new RangeError(`a lab has 1 to ${GATEWAY - 1} hosts, not ${hosts.length}`);
    if (hosts.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new RangeError(`bridges are numbered 0 to 255: ${hosts.join(", ")}`);
    const lab = new LabNetwork(randomTag(), hosts);
    try {
      await lab.#build();
    } catch (error) {
      await lab.destroy().catch(() => {});
      throw error;
    }
    return lab;
  }

  /** The bridge links, by number. */
  bridgeLink(bridge: number): string {
    return `pt${this.tag}b${bridge}`;
  }

  host(name: string): LabHost {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name} in this lab (${this.hosts.map((h) => h.name).join(", ")})`);
    return host;
  }

  /** Runs `pyro-ts ...args` on `host`, until it ends or the lab is destroyed. */
  spawn(host: string, args: readonly string[]): NodeChild {
    this.#assertLive();
    const via = ["ip", "netns", "exec", this.host(host).namespace];
    const child = new NodeChild(`${host}: pyro-ts ${args.join(" ")}`, CLI, args, { stdin: "ignore", via, env: this.#envOf(host), cwd: this.#workDir });
    this.#processes.push({ host, child });
    return child;
  }

  /** Runs a command on `host` to its end (SIGKILLed after `timeoutMs`). */
  exec(host: string, command: readonly string[], timeoutMs = 10_000): Promise<CommandResult> {
    this.#assertLive();
    return runCommand("ip", ["netns", "exec", this.host(host).namespace, ...command], { env: this.#envOf(host), cwd: this.#workDir, timeoutMs });
  }

  /** A host's environment: its own run directory (pid and log files), as a machine of its own has. */
  #envOf(host: string): NodeJS.ProcessEnv {
    return { ...this.#env, PYRO_TS_RUN_DIR: join(this.#workDir, `run-${this.host(host).name}`) };
  }

  /** Runs `pyro-ts ...args` on `host` to its end. */
  execCli(host: string, args: readonly string[], timeoutMs = 10_000): Promise<CommandResult> {
    return this.exec(host, [process.execPath, CLI, ...args], timeoutMs);
  }

  /** Cuts `host` off the network: its port on the switch goes down (its own interface loses carrier). */
  async linkDown(host: string): Promise<void> {
    await this.#ip("-n", this.switchNamespace, "link", "set", this.host(host).switchLink, "down");
  }

  /** Puts `host` back on the network. */
  async linkUp(host: string): Promise<void> {
    await this.#ip("-n", this.switchNamespace, "link", "set", this.host(host).switchLink, "up");
  }

  /** A host crash: SIGKILL of every process running on `host`, and a bounded wait for the ones this lab started. */
  async crash(host: string): Promise<void> {
    const { namespace } = this.host(host);
    const pids = await runCommand("ip", ["netns", "pids", namespace]);
    if (pids.code !== 0) throw new Error(describeFailure(["ip", "netns", "pids", namespace], pids));
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // It ended on its own meanwhile.
      }
    }
    const mine = this.#processes.filter((p) => p.host === host);
    await Promise.all(mine.map((p) => p.child.expectExit(5000)));
  }

  /**
   * Kills every process the lab started, removes every namespace it made (their veths and
   * bridges go with them) and its working folder. Idempotent, safe on a half-built lab;
   * fails only if a namespace could not be removed.
   */
  destroy(): Promise<void> {
    return (this.#destroyed ??= this.#teardown());
  }

  async #teardown(): Promise<void> {
    for (const { child } of this.#processes) child.signal("SIGKILL");
    await Promise.all(this.#processes.map(({ child }) => child.exited(5000)));
    const left: string[] = [];
    // Hosts first, the switch last: each removal also kills whatever else still runs inside.
    for (const namespace of [...this.#namespaces].reverse()) {
      removeNamespaceSync(namespace);
      if (namespaceExists(namespace)) left.push(namespace);
      else forget(namespace);
    }
    rmSync(this.#workDir, { recursive: true, force: true });
    forgetFolder(this.#workDir);
    if (left.length) throw new Error(`could not remove network namespaces ${left.join(", ")} (they are removed again at exit)`);
  }

  async #build(): Promise<void> {
    const sw = this.switchNamespace;
    await this.#addNamespace(sw);
    await this.#ip("-n", sw, "link", "set", "lo", "up");
    for (const bridge of [...new Set(this.hosts.map((h) => h.bridge))]) {
      const link = this.bridgeLink(bridge);
      await this.#ip("-n", sw, "link", "add", link, "type", "bridge");
      await this.#ip("-n", sw, "addr", "add", `198.18.${bridge}.${GATEWAY}/24`, "brd", "+", "dev", link);
      await this.#ip("-n", sw, "link", "set", link, "up");
    }
    // Routing between bridges (per namespace: the machine's own setting is untouched).
    await this.#run(["ip", "netns", "exec", sw, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    for (const host of this.hosts) {
      const ns = host.namespace;
      await this.#addNamespace(ns);
      // Both ends are made where they live: the veth never passes through the machine's namespace.
      await this.#ip("-n", sw, "link", "add", host.switchLink, "type", "veth", "peer", "name", host.hostLink, "netns", ns);
      await this.#ip("-n", sw, "link", "set", host.switchLink, "master", this.bridgeLink(host.bridge), "up");
      await this.#ip("-n", ns, "link", "set", "lo", "up");
      await this.#ip("-n", ns, "addr", "add", `${host.address}/24`, "brd", "+", "dev", host.hostLink);
      await this.#ip("-n", ns, "link", "set", host.hostLink, "up");
      await this.#ip("-n", ns, "route", "add", "default", "via", `198.18.${host.bridge}.${GATEWAY}`);
    }
  }

  async #addNamespace(namespace: string): Promise<void> {
    // Never adopt a namespace that is not ours (another run's, despite the random tag).
    if (namespaceExists(namespace)) throw new Error(`network namespace ${namespace} already exists`);
    // Registered before it exists: an interruption between the two leaves nothing behind.
    removeAtExit(namespace);
    this.#namespaces.push(namespace);
    try {
      await this.#ip("netns", "add", namespace);
    } catch (error) {
      this.#namespaces.pop();
      forget(namespace);
      throw error;
    }
  }

  #ip(...args: string[]): Promise<void> {
    return this.#run(["ip", ...args]);
  }

  async #run(command: readonly string[]): Promise<void> {
    const result = await runCommand(command[0]!, command.slice(1), { timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(describeFailure(command, result));
  }

  #assertLive(): void {
    if (this.#destroyed) throw new Error(`lab ${this.tag} was destroyed`);
  }
}
