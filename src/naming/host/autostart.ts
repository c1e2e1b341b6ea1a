import { resolve } from "node:path";
import { NamingError } from "../../errors.js";
import type { Remote } from "../../proxy/remote.js";
import type { NameServer } from "../nameserver.js";
import { startDetachedNameServer } from "./detached-start.js";
import { NameServerStartError } from "./host-errors.js";
import { nameServerArgv } from "./nameserver-command.js";
import { ensureRunDirectory, logFilePath } from "./run-files.js";

/** How an autostarted nameserver runs. */
export interface AutostartOptions {
  /** `memory` (default), `file:<path>` or `sqlite:<path>`; a relative path is taken from the current directory. */
  readonly storage?: string;
  /** Where its output goes. Default: `nameserver-<port>.log` in the run directory. */
  readonly logFile?: string;
}

/** What locateNs hands over when nothing answered. */
export interface AutostartRequest {
  /** Where a nameserver was looked for, in order of preference: it is started at the first of these hosts that is this machine. */
  readonly candidates: readonly { readonly host: string; readonly port: number }[];
  /** False: the started nameserver answers no broadcasts either. */
  readonly broadcast?: boolean | readonly string[];
  /** UDP port its broadcast responder binds (where this locator asks). */
  readonly bcport?: number;
  readonly isLocal: (host: string) => boolean;
  /** A proxy to the nameserver at host:port, or undefined when none answers there. */
  readonly find: (host: string, port: number) => Promise<Remote<NameServer> | undefined>;
}

/** How long the loser of a start race waits for the winner's nameserver to answer. */
const WINNER_TIMEOUT_MS = 5000;
const POLL_INTERVAL_MS = 100;

/** The autostart settings to follow: the option, else PYRO_TS_NS_AUTOSTART=1; undefined when off. */
export function autostartSettings(option: boolean | AutostartOptions | undefined): AutostartOptions | undefined {
  if (option === false) return undefined;
  if (option === true) return {};
  if (option) return option;
  return /^(1|true)$/i.test(process.env.PYRO_TS_NS_AUTOSTART ?? "") ? {} : undefined;
}

/** `file:<relative>` as `file:<absolute>`: the nameserver runs elsewhere, and may be respawned from anywhere. */
function absoluteStorage(storage: string): string {
  const match = /^(file|sqlite):(.+)$/.exec(storage);
  return match ? `${match[1]}:${resolve(match[2]!)}` : storage;
}

/**
 * Starts a detached nameserver for this host (nothing answered) and returns a proxy to it.
 * Several programs may do this at once: the nameserver port decides, since only one child
 * can bind it; the others' children exit with "port in use", and they use the winner's.
 */
export async function autostartNameServer(request: AutostartRequest, settings: AutostartOptions): Promise<Remote<NameServer>> {
  const tried = request.candidates.map(({ host, port }) => `${host.includes(":") ? `[${host}]` : host}:${port}`).join(", ");
  const target = request.candidates.find(({ host }) => request.isLocal(host));
  if (!target) throw new NamingError(`no nameserver answers at ${tried}, and autostart cannot start one there: cannot autostart a nameserver on another host`);
  const { host, port } = target;
  const logFile = resolve(settings.logFile ?? logFilePath(port));
  const argv = nameServerArgv({
    host,
    port,
    ...(settings.storage && { storage: absoluteStorage(settings.storage) }),
    ...(request.broadcast === false ? { broadcast: false } : request.bcport !== undefined && { bcport: request.bcport }),
    logFile,
    // Not the caller's directory: a nameserver that outlives it must not keep it busy.
    cwd: ensureRunDirectory(),
  });
  let lost: NameServerStartError | undefined;
  try {
    await startDetachedNameServer({ argv, logFile });
  } catch (error) {
    if (!(error instanceof NameServerStartError) || error.reason !== "port-in-use") throw error;
    lost = error;
  }
  const deadline = Date.now() + WINNER_TIMEOUT_MS;
  for (;;) {
    const proxy = await request.find(host, port);
    if (proxy) return proxy;
    if (Date.now() >= deadline) break;
    await new Promise((done) => setTimeout(done, POLL_INTERVAL_MS));
  }
  if (lost) throw new NamingError(`cannot autostart a nameserver at ${host}:${port}: port ${port} is held by another program, which does not answer as a nameserver`, { cause: lost });
  throw new NamingError(`the nameserver autostarted at ${host}:${port} does not answer (log ${logFile})`);
}
