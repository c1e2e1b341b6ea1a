import { expose } from "../../../decorators/index.js";
import { Signal } from "../../signal.js";
import { processAlive } from "./process-alive.js";
import { RankTable, type RankHolder } from "./rank-table.js";

/** Object id of the host supervision object, served beside the nameserver. */
export const NAMESERVER_HOST_ID = "pyro-ts.NameServerHost";

/** How often dead holders are dropped, so ranks pass on without a `leave`. */
const PRUNE_INTERVAL_MS = 1000;

/** The command line that starts a detached nameserver again, and where its output goes. */
export interface RespawnCommand {
  /** Arguments after `node`: the CLI script and its arguments. */
  readonly argv: readonly string[];
  readonly logFile: string;
}

/** What a process keeping names gets when it joins: its rank, and how to respawn the nameserver. */
export interface HostTicket {
  readonly rank: number;
  /** The nameserver's process, which the holders watch. */
  readonly nameserverPid: number;
  /** Absent when the nameserver is not to be respawned by its users (run in the foreground, by systemd...). */
  readonly respawn?: RespawnCommand;
  readonly holders: RankHolder[];
}

/**
 * Served beside the nameserver (`pyro-ts.NameServerHost`): hands out the ranks of the host's
 * processes that keep names, and tells them how to respawn this nameserver when it dies.
 */
@expose
export class NameServerHost {
  /** The holders, lowest rank first, whenever one joins, leaves or dies. */
  readonly ranksChanged = new Signal<[holders: RankHolder[]]>();
  /** The nameserver stops on purpose (`ns stop`, SIGTERM, close()): it is not to be respawned. */
  readonly retiring = new Signal<[]>();
  readonly #ranks = new RankTable();
  readonly #respawn: RespawnCommand | undefined;
  readonly #pruner: NodeJS.Timeout;

  constructor(respawn: RespawnCommand | undefined) {
    this.#respawn = respawn && { argv: [...respawn.argv], logFile: respawn.logFile };
    this.#pruner = setInterval(() => this.#prune(), PRUNE_INTERVAL_MS).unref();
  }

  /** Joins the respawn order (again: the same rank) as process `pid` of this host. */
  join(pid: number): HostTicket {
    this.#prune();
    const known = this.#ranks.holders().length;
    const rank = this.#ranks.join(pid);
    const holders = this.#ranks.holders();
    if (holders.length !== known) this.ranksChanged.emit(holders);
    return { rank, nameserverPid: process.pid, ...(this.#respawn && { respawn: this.#respawn }), holders };
  }

  /** Gives a rank up (a process that stops keeping names), passing the duty on. */
  leave(pid: number, rank: number): void {
    if (this.#ranks.leave(pid, rank)) this.ranksChanged.emit(this.#ranks.holders());
  }

  holders(): RankHolder[] {
    return this.#ranks.holders();
  }

  /** Told first by a clean stop, while the holders still hear it. */
  _retire(): void {
    this.retiring.emit();
  }

  _close(): void {
    clearInterval(this.#pruner);
  }

  #prune(): void {
    if (this.#ranks.prune(processAlive)) this.ranksChanged.emit(this.#ranks.holders());
  }
}
