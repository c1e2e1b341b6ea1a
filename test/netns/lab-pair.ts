/**
 * An active/standby pair of nameservers on lab hosts, for test/federation-hosts-pair.test.ts:
 * each started with `--pair <the other's host:port>`, checks that a list holds exactly some
 * names, and a log of how long each step took.
 */
import type { Federation } from "./federation.js";
import { nsOf, type ListedName } from "./lab-names.js";
import type { LabNetwork } from "./lab-network.js";

/** The nameserver arguments of `host` paired with `partner` (storage: `memory`, or a file in the lab's folder). */
export function pairArgs(lab: LabNetwork, partner: string, storage = "memory"): string[] {
  return ["--pair", nsOf(lab, partner), "-s", storage];
}

/** Starts the nameserver of `host` paired with `partner`; resolves once it serves. */
export function startPaired(federation: Federation, host: string, partner: string, storage = "memory"): Promise<void> {
  return federation.start([host], "lab", pairArgs(federation.lab, partner, storage));
}

/** `ns remove <name>` on `host`: fails the test if refused (the name must be that nameserver's own). */
export async function removeName(lab: LabNetwork, host: string, name: string): Promise<void> {
  const args = ["ns", "remove", name, "--ns", nsOf(lab, host)];
  const result = await lab.execCli(host, args, 5000);
  if (result.code !== 0 || !result.stdout.includes("removed 1 name")) {
    throw new Error(`${host}: pyro-ts ${args.join(" ")}: exit ${result.code}: ${(result.stderr.trim() || result.stdout.trim()).slice(0, 2000)}`);
  }
}

/** What is wrong with `list` if it is not exactly `expected` (name to URI), or undefined. */
export function notExactly(host: string, list: ReadonlyMap<string, ListedName>, expected: ReadonlyMap<string, string>): string | undefined {
  for (const [name, uri] of expected) {
    const listed = list.get(name);
    if (!listed) return `${host} does not list ${name}`;
    if (listed.uri !== uri) return `${host} lists ${name} as ${listed.uri}, expected ${uri}`;
  }
  const extra = [...list.keys()].filter((name) => !expected.has(name));
  return extra.length > 0 ? `${host} also lists ${extra.join(", ")}` : undefined;
}

/** Times the steps of a test and prints them as one block at the end (the test's log). */
export class StepLog {
  readonly #lines: string[] = [];
  readonly #title: string;
  #mark = performance.now();

  constructor(title: string) {
    this.#title = title;
  }

  /** Starts timing a step. */
  start(): void {
    this.#mark = performance.now();
  }

  /** Milliseconds since start(). */
  elapsed(): number {
    return Math.round(performance.now() - this.#mark);
  }

  /** Notes a line with the time since start(). */
  note(what: string, ms = this.elapsed()): number {
    this.#lines.push(`  ${what}: ${ms} ms`);
    return ms;
  }

  print(): void {
    console.log(`${this.#title}\n${this.#lines.join("\n")}`);
  }
}
