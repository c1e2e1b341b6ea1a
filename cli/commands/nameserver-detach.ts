import { DaemonError, locateNs, parseUri, SecurityError } from "../../src/index.js";
import { startDetachedNameServer } from "../../src/naming/host/detached-start.js";
import { NameServerStartError } from "../../src/naming/host/host-errors.js";
import { DETACHED_CHILD_FLAG, LOG_FILE_FLAG } from "../../src/naming/host/nameserver-command.js";
import { processAlive } from "../../src/naming/host/process-alive.js";
import { ensureRunDirectory, logFilePath, readPidFile, removePidFile, writePidFile } from "../../src/naming/host/run-files.js";
import { reportToStarter } from "../../src/naming/host/start-report.js";

/**
 * The run-file side of `pyro-ts nameserver`: `--detach` (start this same command in the
 * background), and what every CLI nameserver does once it runs (its pid file) or stops.
 */

const PROBE_TIMEOUT_MS = 1500;

/** Where to ask whether a nameserver answers on a port bound on `host`. */
function probeHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "::1";
  return host;
}

/** Why host:port could not be bound: a pyro-ts nameserver (which one) or some other program. */
async function whoHolds(host: string, port: number): Promise<string> {
  const probe = probeHost(host);
  try {
    const ns = await locateNs({ ns: `${probe.includes(":") ? `[${probe}]` : probe}:${port}`, broadcast: false, autostart: false, timeout: PROBE_TIMEOUT_MS, locateTimeout: PROBE_TIMEOUT_MS });
    const uri = ns.$uri;
    await ns.$close();
    let pid: number | undefined;
    try {
      pid = readPidFile(port)?.pid;
    } catch {
      pid = undefined;
    }
    return `a pyro-ts nameserver already runs at ${uri}${pid !== undefined && processAlive(pid) ? ` (pid ${pid})` : ""}`;
  } catch (error) {
    if (error instanceof SecurityError) return `port ${port} is held by a nameserver that refused us (${error.message})`;
    return `port ${port} is held by another program`;
  }
}

/**
 * `pyro-ts nameserver ... --detach`: runs the same command line in its own session, output
 * to the log, and returns once it reported ready (printing its URI, pid and log).
 */
export async function detachNameServer(host: string, port: number): Promise<void> {
  ensureRunDirectory();
  const logFile = logFilePath(port);
  // The child gets this directory, so relative paths in the arguments mean what they meant here, even when respawned from elsewhere.
  const args = process.argv.slice(2).filter((arg) => arg !== "--detach");
  const argv = [process.argv[1]!, ...args, DETACHED_CHILD_FLAG, process.cwd(), LOG_FILE_FLAG, logFile];
  try {
    const started = await startDetachedNameServer({ argv, logFile });
    process.stdout.write(`nameserver running at ${started.uri} (pid ${started.pid}), log ${logFile}\n`);
  } catch (error) {
    if (error instanceof NameServerStartError && error.reason === "port-in-use") {
      throw new NameServerStartError("port-in-use", `cannot start a nameserver on ${host}:${port}: ${await whoHolds(host, port)}`, { cause: error });
    }
    throw error;
  }
}

/** The TCP port of a nameserver URI (what its run files are named by). */
function portOf(uri: string): number | undefined {
  const location = parseUri(uri).location;
  return location?.transport === "tcp" ? location.port : undefined;
}

/**
 * A CLI nameserver runs: writes its pid file (best effort: a nameserver that cannot write
 * one still serves) and, when detached, tells its starter it is ready.
 */
export async function announceRunning(uri: string, logFile: string | undefined): Promise<void> {
  const port = portOf(uri);
  if (port !== undefined) {
    try {
      writePidFile(port, { pid: process.pid, uri, argv: process.argv.slice(1), ...(logFile && { logFile }), started: new Date().toISOString() });
    } catch (error) {
      process.stderr.write(`pyro-ts: warning: cannot write the pid file: ${(error as Error).message}\n`);
    }
  }
  if (logFile) await reportToStarter({ kind: "pyro-ts.nameserver-ready", pid: process.pid, uri });
}

/** A detached nameserver failed to start: tells its starter why, before the error ends it. */
export async function reportStartFailure(error: unknown): Promise<void> {
  const portTaken = error instanceof DaemonError && (error.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE";
  await reportToStarter({ kind: "pyro-ts.nameserver-failed", reason: portTaken ? "port-in-use" : "exited", message: error instanceof Error ? error.message : String(error) });
}

/** A CLI nameserver stopped cleanly: its pid file goes (unless another nameserver's replaced it). */
export function forgetRunning(uri: string): void {
  const port = portOf(uri);
  if (port !== undefined) removePidFile(port, process.pid);
}
