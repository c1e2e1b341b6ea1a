import type { Command } from "commander";
import { connect, ConnectionClosedError, RemoteError, RemoteStream, resolve, type ObjectMetadata } from "../../src/index.js";
import { clientOptions, lookupOptions, type NsFlags } from "../nameserver-client.js";
import { EXIT_INTERRUPTED, positiveNumber, print, printLine, show, UsageError } from "../output.js";

/** How long a stopped stream waits for the daemon to confirm it heard the stop. */
const STOP_CONFIRM_MS = 1000;

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

/**
 * Prints a stream's items as they come, one line each, to its end; what it ends with (the
 * generator threw, no item within the timeout) is thrown once the items before it are printed.
 * Ctrl-C stops it, the daemon's generator too, with exit code 130 (a second Ctrl-C exits at
 * once). A reader that went away (`| head`) stops it as well: EPIPE is a quiet exit 0, another
 * stdout error is thrown.
 */
async function printStream(proxy: Untyped, stream: RemoteStream, json: boolean): Promise<void> {
  let interrupted = false;
  let outputError: NodeJS.ErrnoException | undefined;
  const onSigint = (): void => {
    if (interrupted) process.exit(EXIT_INTERRUPTED);
    interrupted = true;
    void stream.close();
  };
  // Stays on: a write already under way may fail after the stream stopped.
  const onOutputError = (error: NodeJS.ErrnoException): void => {
    outputError ??= error;
    void stream.close();
  };
  process.on("SIGINT", onSigint);
  process.stdout.on("error", onOutputError);
  let failure: unknown;
  try {
    // After close() the stream yields nothing more: the loop ends.
    for await (const item of stream) if (!interrupted && !outputError) printLine(item, json);
  } catch (error) {
    failure = error;
  }
  // Stopped by this end, the daemon must hear it before the connection closes (it closes at
  // once, dropping what is still queued): a reply to a later request on the same connection
  // tells it did. Not when the daemon ended the stream itself, or is gone.
  const daemonEnded = failure === undefined ? !interrupted && !outputError : failure instanceof RemoteError || failure instanceof ConnectionClosedError;
  if (!daemonEnded) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([proxy.$meta().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, STOP_CONFIRM_MS)))]);
    clearTimeout(timer);
  }
  process.off("SIGINT", onSigint);
  if (interrupted) process.exitCode = EXIT_INTERRUPTED;
  else if (failure !== undefined) throw failure;
  else if (outputError && outputError.code !== "EPIPE") throw outputError;
}

export function callCommand(program: Command): void {
  clientOptions(program.command("call"))
    .description("call a method of a remote object (or read an attribute) and print the result (a streamed result: each item as it comes, one line each)")
    .argument("<target>", "a name in the nameserver, or a URI")
    .argument("<member>", "method or attribute")
    .argument("[args...]", "arguments, parsed as JSON (text that is not JSON is a string)")
    .option("--timeout <ms>", "call timeout in ms (a stream: the longest wait for each item)", positiveNumber, 30_000)
    .option("--json", "print the result as JSON (a stream: one JSON line per item)")
    .action(async (target: string, member: string, args: string[], flags: NsFlags & { timeout: number; json?: boolean }) => {
      const options = { ...lookupOptions(flags), timeout: flags.timeout };
      const proxy = (await connect(uriOf(target), options)) as unknown as Untyped;
      try {
        const meta = await proxy.$meta();
        let result: unknown;
        if (meta.methods.includes(member)) result = await (proxy[member] as (...a: unknown[]) => Promise<unknown>)(...args.map(parseArgument));
        else if (meta.attributes.includes(member) && args.length === 0) result = await (proxy[member] as PromiseLike<unknown>);
        else throw new UsageError(`${target} has no method ${JSON.stringify(member)}${meta.attributes.includes(member) ? " (it is an attribute: give no arguments)" : ""}; methods: ${meta.methods.join(", ") || "none"}`);
        if (result instanceof RemoteStream) await printStream(proxy, result, flags.json === true);
        else if (result !== undefined || flags.json) print(result ?? null, flags.json === true, show);
      } finally {
        await proxy.$close();
      }
    });

  clientOptions(program.command("info"))
    .description("show what a remote object exposes: methods, attributes, oneway methods, signals")
    .argument("<target>", "a name in the nameserver, or a URI")
    .option("--json", "print JSON")
    .action(async (target: string, flags: NsFlags & { json?: boolean }) => {
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
