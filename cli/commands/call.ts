import type { Command } from "commander";
import { connect, RemoteStream, resolve, type ObjectMetadata } from "../../src/index.js";
import { clientOptions, lookupOptions, type NsFlags } from "../nameserver-client.js";
import { positiveNumber, print, printLine, show, UsageError } from "../output.js";
import { printItems } from "../stream-output.js";
import { pyro5Call, pyro5Info, pyro5NsOption, type Pyro5Flags } from "../pyro5-commands.js";

/** A name, or a PYRO/PYRONAME/PYROMETA URI as it is. */
function uriOf(target: string): string {
  return /^PYRO(NAME|META)?:/i.test(target) ? target : `PYRONAME:${target}`;
}

/** Arguments are JSON; anything that is not valid JSON is taken as a string. */
function parseArgument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Untyped = Record<string, unknown> & { $meta(): Promise<ObjectMetadata>; $close(): Promise<void> };

export function callCommand(program: Command): void {
  pyro5NsOption(clientOptions(program.command("call")))
    .description("call a method of a remote object (or read an attribute) and print the result (a streamed result: each item as it comes, one line each)")
    .argument("<target>", "a name in the nameserver, or a URI")
    .argument("<member>", "method or attribute")
    .argument("[args...]", "arguments, parsed as JSON (text that is not JSON is a string)")
    .option("--timeout <ms>", "call timeout in ms (a stream: the longest wait for each item)", positiveNumber, 30_000)
    .option("--json", "print the result as JSON (a stream: one JSON line per item)")
    .action(async (target: string, member: string, args: string[], flags: NsFlags & Pyro5Flags & { timeout: number; json?: boolean }) => {
      if (flags.pyro5Ns !== undefined) return pyro5Call(flags.pyro5Ns, target, member, args.map(parseArgument), flags);
      const options = { ...lookupOptions(flags), timeout: flags.timeout };
      const proxy = (await connect(uriOf(target), options)) as unknown as Untyped;
      try {
        const meta = await proxy.$meta();
        let result: unknown;
        if (meta.methods.includes(member)) result = await (proxy[member] as (...a: unknown[]) => Promise<unknown>)(...args.map(parseArgument));
        else if (meta.attributes.includes(member) && args.length === 0) result = await (proxy[member] as PromiseLike<unknown>);
        else throw new UsageError(`${target} has no method ${JSON.stringify(member)}${meta.attributes.includes(member) ? " (it is an attribute: give no arguments)" : ""}; methods: ${meta.methods.join(", ") || "none"}`);
        // Stopped by this end, the daemon must hear it before the connection closes: a reply to a
        // later request on the same connection tells it did.
        if (result instanceof RemoteStream) await printItems(result, (item) => printLine(item, flags.json === true), () => proxy.$meta());
        else if (result !== undefined || flags.json) print(result ?? null, flags.json === true, show);
      } finally {
        await proxy.$close();
      }
    });

  pyro5NsOption(clientOptions(program.command("info")))
    .description("show what a remote object exposes: methods, attributes, oneway methods, signals")
    .argument("<target>", "a name in the nameserver, or a URI")
    .option("--json", "print JSON")
    .action(async (target: string, flags: NsFlags & Pyro5Flags & { json?: boolean }) => {
      if (flags.pyro5Ns !== undefined) return pyro5Info(flags.pyro5Ns, target, flags.json === true);
      const options = lookupOptions(flags);
      const uri = await resolve(uriOf(target), options);
      const proxy = (await connect(uri, options)) as unknown as Untyped;
      try {
        const meta = await proxy.$meta();
        print({ uri, ...meta }, flags.json === true, (info: ObjectMetadata & { uri: string }) =>
          [
            info.uri,
            `methods:    ${info.methods.join(", ") || "-"}`,
            `attributes: ${info.attributes.map((a) => (info.writable.includes(a) ? `${a} (writable)` : a)).join(", ") || "-"}`,
            `oneway:     ${info.oneway.join(", ") || "-"}`,
            `signals:    ${info.signals.join(", ") || "-"}`,
          ].join("\n"),
        );
      } finally {
        await proxy.$close();
      }
    });
}
