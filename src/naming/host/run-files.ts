import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultDataDirectory } from "../data-directory.js";
import { PidFileError } from "./host-errors.js";

/**
 * The files a nameserver of this host leaves for the tools that manage it, one pair per
 * port: `nameserver-<port>.pid` (who runs there, and how to start it again) and
 * `nameserver-<port>.log` (the output of a detached one, appended across restarts).
 */

/** What a running CLI nameserver writes to its pid file. */
export interface PidFileContent {
  readonly pid: number;
  readonly uri: string;
  /** Arguments after `node`: the CLI script and its arguments. */
  readonly argv: readonly string[];
  /** Where its output goes; absent for a nameserver run in the foreground. */
  readonly logFile?: string;
  /** When it started, ISO 8601. */
  readonly started: string;
}

/** The run directory: PYRO_TS_RUN_DIR, else `run` in the nameserver's data directory. Not created. */
export function runDirectory(): string {
  return process.env.PYRO_TS_RUN_DIR || join(defaultDataDirectory(), "run");
}

/** The run directory, created if missing (private to this user: pid files steer `ns stop`). */
export function ensureRunDirectory(): string {
  const directory = runDirectory();
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  return directory;
}

export function pidFilePath(port: number): string {
  return join(runDirectory(), `nameserver-${port}.pid`);
}

export function logFilePath(port: number): string {
  return join(runDirectory(), `nameserver-${port}.log`);
}

function isContent(value: unknown): value is PidFileContent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(v.pid) &&
    (v.pid as number) > 0 &&
    typeof v.uri === "string" &&
    Array.isArray(v.argv) &&
    v.argv.every((a) => typeof a === "string") &&
    (v.logFile === undefined || typeof v.logFile === "string") &&
    typeof v.started === "string"
  );
}

/** The pid file of the nameserver on `port`, or undefined when there is none. Throws PidFileError when it is corrupt. */
export function readPidFile(port: number): PidFileContent | undefined {
  const file = pidFilePath(port);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PidFileError(file, `cannot read the pid file ${file}: ${(error as Error).message}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PidFileError(file, `the pid file ${file} is corrupt (not JSON); remove it if no nameserver runs on port ${port}`, { cause: error });
  }
  if (!isContent(parsed)) throw new PidFileError(file, `the pid file ${file} is corrupt (expected pid, uri, argv, started); remove it if no nameserver runs on port ${port}`);
  return parsed;
}

/** Writes the pid file of `port` whole or not at all (a reader never sees half of it). */
export function writePidFile(port: number, content: PidFileContent): string {
  ensureRunDirectory();
  const file = pidFilePath(port);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
  return file;
}

/**
 * Removes the pid file of `port`. With `pid`, only when it still names that process: a
 * nameserver that stops late must not remove the file of the one that replaced it.
 */
export function removePidFile(port: number, pid?: number): void {
  if (pid !== undefined) {
    let current: PidFileContent | undefined;
    try {
      current = readPidFile(port);
    } catch {
      current = undefined;
    }
    if (current?.pid !== pid) return;
  }
  rmSync(pidFilePath(port), { force: true });
}
