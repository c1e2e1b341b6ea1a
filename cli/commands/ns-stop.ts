import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_NS_PORT, NamingError } from "../../src/index.js";
import { processAlive } from "../../src/naming/host/process-alive.js";
import { pidFilePath, readPidFile, removePidFile } from "../../src/naming/host/run-files.js";
import { port } from "../output.js";

const STOP_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 50;

/** What runs as `pid`: "running", "gone", or, where /proc tells, "other" (the pid now belongs to another program). */
function whatRuns(pid: number): "running" | "gone" | "other" {
  if (!processAlive(pid)) return "gone";
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    // No /proc (not Linux), or it ended in between: the signal check is all there is.
    return "running";
  }
  const args = cmdline.slice(1);
  return args.includes("nameserver") && args.some((arg) => arg.includes("pyro-ts")) ? "running" : "other";
}

/** Waits (bounded) for `pid` to end; returns whether it did. */
async function ended(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (whatRuns(pid) === "running") {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  return true;
}

/**
 * Stops the nameserver of this host on `port`, found by its pid file: SIGTERM, so it closes
 * cleanly (its names saved, its pid file removed). A pid that now belongs to another program
 * is never signalled.
 */
export async function stopNameServer(nsPort: number): Promise<void> {
  const file = pidFilePath(nsPort);
  const running = readPidFile(nsPort);
  if (!running) throw new NamingError(`no nameserver to stop on port ${nsPort}: there is no pid file ${file} (one is written by a nameserver the CLI runs, detached or not)`);
  const state = whatRuns(running.pid);
  if (state !== "running") {
    removePidFile(nsPort, running.pid);
    const why = state === "gone" ? "is gone" : "is gone (the pid now belongs to another program, left alone)";
    throw new NamingError(`the nameserver of port ${nsPort} (pid ${running.pid}) ${why}; removed its stale pid file ${file}`);
  }
  try {
    process.kill(running.pid, "SIGTERM");
  } catch (error) {
    throw new NamingError(`cannot signal the nameserver (pid ${running.pid}): ${(error as Error).message}`, { cause: error });
  }
  if (!(await ended(running.pid, STOP_TIMEOUT_MS))) {
    throw new NamingError(`the nameserver (pid ${running.pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; its log: ${running.logFile ?? "(none: it runs in the foreground)"}`);
  }
  // It removes the file itself when it stops cleanly; this covers one that could not.
  removePidFile(nsPort, running.pid);
  process.stdout.write(`stopped nameserver (pid ${running.pid})\n`);
}

/** `pyro-ts ns stop [--port P]`. */
export function nsStopCommand(ns: Command): void {
  ns.command("stop")
    .description("stop the nameserver running on this host (started with --detach, by autostart, or in the foreground), by its pid file")
    .option("-p, --port <port>", "the nameserver's port", port, DEFAULT_NS_PORT)
    .action((flags: { port: number }) => stopNameServer(flags.port));
}
