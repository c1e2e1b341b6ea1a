import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { NameServerStartError, type NameServerStartFailure } from "./host-errors.js";
import { isStartReport, type StartReport } from "./start-report.js";

/** How to start a detached nameserver. */
export interface DetachedStart {
  /** Arguments after `process.execPath`: the CLI script and its arguments. */
  readonly argv: readonly string[];
  /** Its stdout and stderr are appended here. */
  readonly logFile: string;
  /** Its environment. Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** How long it may take to report ready, in ms. Default 10000. */
  readonly timeoutMs?: number;
}

/** A detached nameserver that reported ready. */
export interface StartedNameServer {
  readonly pid: number;
  readonly uri: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 15;
const LOG_TAIL_BYTES = 16_384;

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last lines the child wrote to the log (from `offset`, where its start began). */
function logTail(file: string, offset: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const end = statSync(file).size;
    const from = Math.max(offset, end - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(Math.max(0, end - from));
    readSync(fd, buffer, 0, buffer.length, from);
    const lines = buffer.toString("utf8").split("\n").filter((line) => line.trim() !== "");
    return lines.length ? lines.slice(-LOG_TAIL_LINES).map((line) => `  | ${line}`).join("\n") : "  (nothing in the log)";
  } catch {
    return "  (the log cannot be read)";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Kills the child and anything it started: it leads its own process group. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/**
 * Starts a nameserver that outlives this process: `node ...argv` in its own session and
 * process group (so a terminal's hangup or a Ctrl-C of its starter never reaches it), its
 * output appended to `logFile`. Resolves once it reports ready over the IPC channel of the
 * start, after which this process holds nothing of it and may exit. Rejects with a
 * NameServerStartError when its port is taken, when it exits first, or when it stays
 * silent for `timeoutMs` (it is killed then).
 */
export function startDetachedNameServer(start: DetachedStart): Promise<StartedNameServer> {
  const timeoutMs = start.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  mkdirSync(dirname(start.logFile), { recursive: true });
  const offset = fileSize(start.logFile);
  const log = openSync(start.logFile, "a");
  let child: ChildProcess;
  try {
    writeSync(log, `--- ${new Date().toISOString()} pid ${process.pid} starts: ${process.execPath} ${start.argv.join(" ")}\n`);
    child = spawn(process.execPath, [...start.argv], { detached: true, stdio: ["ignore", log, log, "ipc"], env: start.env ?? process.env });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(log);
  }
  return new Promise<StartedNameServer>((resolve, reject) => {
    let failure: Extract<StartReport, { kind: "pyro-ts.nameserver-failed" }> | undefined;
    const fail = (reason: NameServerStartFailure, what: string, cause?: unknown): void => {
      settle();
      reject(new NameServerStartError(reason, `${what}; log ${start.logFile}:\n${logTail(start.logFile, offset)}`, cause === undefined ? undefined : { cause }));
    };
    const settle = (): void => {
      clearTimeout(timer);
      child.removeAllListeners("message");
      child.removeAllListeners("close");
      child.removeAllListeners("error");
      // Neither the channel nor the child handle may keep this process alive from now on.
      if (child.connected) child.disconnect();
      child.unref();
    };
    const timer = setTimeout(() => {
      killGroup(child);
      fail("timeout", `the nameserver did not report ready within ${timeoutMs} ms (killed)`);
    }, timeoutMs);
    child.on("message", (message: unknown) => {
      if (!isStartReport(message)) return;
      if (message.kind === "pyro-ts.nameserver-failed") {
        failure = message; // Its exit follows.
        return;
      }
      settle();
      resolve({ pid: message.pid, uri: message.uri });
    });
    // "close", not "exit": it comes after the IPC channel is drained, so a failure report sent just before the exit is seen.
    child.once("close", (code, signal) => {
      if (failure) fail(failure.reason, failure.message);
      else fail("exited", `the nameserver exited (${signal ? `signal ${signal}` : `code ${code}`}) before it was ready`);
    });
    child.once("error", (error) => {
      killGroup(child);
      fail("exited", `the nameserver could not be started: ${error.message}`, error);
    });
  });
}
