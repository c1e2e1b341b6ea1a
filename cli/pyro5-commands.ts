/**
 * What `ns list`, `ns lookup`, `call` and `info` do with `--pyro5-ns host:port`: the same, against
 * a Python Pyro5 nameserver and the Pyro5 daemons its names point to.
 */
import type { Command } from "commander";
import { pyro5 } from "../src/index.js";
import { parseHostPort } from "../src/names.js";
import { print, printLine, show, UsageError } from "./output.js";
import { printItems } from "./stream-output.js";

export interface Pyro5Flags {
  pyro5Ns?: string;
}

export function pyro5NsOption(command: Command): Command {
  return command.option("--pyro5-ns <host:port>", "use this Python Pyro5 nameserver (and Pyro5's protocol) instead of a pyro-ts one");
}

/** Runs `use` with the Pyro5 nameserver the flag names, then closes it. */
export async function withPyro5Ns<R>(address: string, use: (ns: pyro5.Pyro5NameServer) => Promise<R>): Promise<R> {
  const { host, port } = parseHostPort(address);
  const ns = await pyro5.locateNs({ host, port });
  try {
    return await use(ns);
  } finally {
    await ns.close();
  }
}

type Untyped = Record<string, unknown> & pyro5.Pyro5ProxyControls;

/** A name is looked up in the Pyro5 nameserver; a PYRO: URI is used as it is. */
async function proxyFor(address: string, target: string, timeout?: number): Promise<Untyped> {
  const options = timeout === undefined ? {} : { timeout };
  if (/^PYRO:/i.test(target)) return (await pyro5.connect(target, options)) as unknown as Untyped;
  const name = target.replace(/^PYRONAME:/i, "");
  return withPyro5Ns(address, async (ns) => (await pyro5.lookup(name, { ...options, ns })) as unknown as Untyped);
}

export async function pyro5Call(address: string, target: string, member: string, args: unknown[], flags: { timeout: number; json?: boolean }): Promise<void> {
  const proxy = await proxyFor(address, target, flags.timeout);
  try {
    const meta = await proxy.$meta();
    let result: unknown;
    if (meta.methods.includes(member)) result = await (proxy[member] as (...a: unknown[]) => Promise<unknown>)(...args);
    else if (meta.attrs.includes(member) && args.length === 0) result = await (proxy[member] as PromiseLike<unknown>);
    else throw new UsageError(`${target} has no method ${JSON.stringify(member)}${meta.attrs.includes(member) ? " (it is an attribute: give no arguments)" : ""}; methods: ${meta.methods.join(", ") || "none"}`);
    if (result instanceof pyro5.Pyro5ItemStream) await printItems(result, (item) => printLine(item, flags.json === true));
    else if (result !== undefined || flags.json) print(result ?? null, flags.json === true, show);
  } finally {
    await proxy.$close();
  }
}

export async function pyro5Info(address: string, target: string, json: boolean): Promise<void> {
  const proxy = await proxyFor(address, target);
  try {
    const meta = await proxy.$meta();
    print({ uri: proxy.$uri, protocol: "pyro5", ...meta }, json, (info: pyro5.Pyro5Metadata & { uri: string }) =>
      [info.uri, `methods:    ${info.methods.join(", ") || "-"}`, `attributes: ${info.attrs.join(", ") || "-"}`, `oneway:     ${info.oneway.join(", ") || "-"}`].join("\n"),
    );
  } finally {
    await proxy.$close();
  }
}
