import { fileURLToPath } from "node:url";

/**
 * The compiled `pyro-ts` CLI script. From dist/ it is beside this module's tree; from source
 * (vitest runs the .ts files) it is the build in dist/, since node cannot run the .ts CLI.
 */
export const CLI_SCRIPT = fileURLToPath(
  new URL(import.meta.url.includes("/dist/src/naming/host/") ? "../../../cli/pyro-ts.js" : "../../../dist/cli/pyro-ts.js", import.meta.url),
);

/** Hidden CLI flags of a detached nameserver: the directory it works in, and its log. */
export const DETACHED_CHILD_FLAG = "--detached-child";
export const LOG_FILE_FLAG = "--log-file";

/** What a detached nameserver started by the library (autostart) runs with. */
export interface NameServerCommand {
  readonly host: string;
  readonly port: number;
  /** `memory` (default), `file:<absolute path>` or `sqlite:<absolute path>`. */
  readonly storage?: string;
  /** False: no broadcast responder. Default: one on UDP `bcport`. */
  readonly broadcast?: boolean;
  readonly bcport?: number;
  /** Where its output goes. */
  readonly logFile: string;
  /** The directory it runs in (relative paths in its arguments and config resolve there). */
  readonly cwd: string;
}

/**
 * The arguments after `node` that run `pyro-ts nameserver` detached at host:port. They carry
 * everything the nameserver needs, so anyone can start it again from anywhere (respawn).
 */
export function nameServerArgv(command: NameServerCommand): string[] {
  return [
    CLI_SCRIPT,
    "nameserver",
    "--host",
    command.host,
    "--port",
    String(command.port),
    ...(command.storage ? ["--storage", command.storage] : []),
    ...(command.broadcast === false ? ["--no-broadcast"] : command.bcport !== undefined ? ["--bcport", String(command.bcport)] : []),
    DETACHED_CHILD_FLAG,
    command.cwd,
    LOG_FILE_FLAG,
    command.logFile,
  ];
}
