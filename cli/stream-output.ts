import { ConnectionClosedError, RemoteError } from "../src/index.js";
import { EXIT_INTERRUPTED } from "./output.js";

/** How long a stopped stream waits for the daemon to confirm it heard the stop. */
const STOP_CONFIRM_MS = 1000;

/** A streamed result, of a pyro-ts daemon or a Pyro5 one. */
export interface PrintableStream extends AsyncIterable<unknown> {
  close(): Promise<void>;
}

/**
 * Prints a stream's items as they come, to its end; what it ends with (the generator threw, no
 * item within the timeout) is thrown once the items before it are printed. Ctrl-C stops it,
 * the daemon's generator too, with exit code 130 (a second Ctrl-C exits at once). A reader
 * that went away (`| head`) stops it as well: EPIPE is a quiet exit 0, another stdout error
 * is thrown. `confirmStop`, when this end stopped the stream, waits (at most a second) until
 * the daemon has heard it, before the connection closes.
 */
export async function printItems(stream: PrintableStream, printItem: (item: unknown) => void, confirmStop?: () => Promise<unknown>): Promise<void> {
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
    for await (const item of stream) if (!interrupted && !outputError) printItem(item);
  } catch (error) {
    failure = error;
  }
  // Not needed when the daemon ended the stream itself, or is gone.
  const daemonEnded = failure === undefined ? !interrupted && !outputError : failure instanceof RemoteError || failure instanceof ConnectionClosedError;
  if (!daemonEnded && confirmStop) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([confirmStop().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, STOP_CONFIRM_MS)))]);
    clearTimeout(timer);
  }
  process.off("SIGINT", onSigint);
  if (interrupted) process.exitCode = EXIT_INTERRUPTED;
  else if (failure !== undefined) throw failure;
  else if (outputError && outputError.code !== "EPIPE") throw outputError;
}
