import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where a nameserver keeps what it writes by default (stores without a file, pid and log
 * files), as PyroLab keeps its in a data directory: XDG_DATA_HOME, else ~/.local/share.
 */
export function defaultDataDirectory(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "pyro-ts", "nameserver");
}
