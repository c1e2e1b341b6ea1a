import { connect, type ConnectOptions } from "../../proxy/connect.js";
import type { Remote } from "../../proxy/remote.js";
import { formatUri, parseUri } from "../../uri.js";
import { startDetachedNameServer } from "./detached-start.js";
import { NameServerStartError } from "./host-errors.js";
import { NAMESERVER_HOST_ID, type HostTicket, type NameServerHost } from "./nameserver-host.js";
import { processAlive } from "./process-alive.js";
import { hasRespawnDuty, type RankHolder } from "./rank-table.js";

/** How often the nameserver's process is checked: its death is seen within this. */
const WATCH_INTERVAL_MS = 100;
/** A respawn that did not bring the nameserver back is tried again after this. */
const RESPAWN_RETRY_MS = 1000;
const LEAVE_TIMEOUT_MS = 1000;

export interface HostGuardEvents {
  /** The nameserver's process is gone (seen at once, before any connection notices). */
  readonly onDeath: () => void;
  readonly onError: (error: unknown, context: string) => void;
}

/**
 * One process's part in keeping its host's nameserver alive: holds a rank, watches the
 * nameserver's process, and respawns it when it dies and no lower rank is alive to.
 * Stays on duty after the death until closed (by the keeper, once a nameserver answers).
 */
export class HostGuard {
  readonly #host: Remote<NameServerHost>;
  readonly #ticket: HostTicket;
  readonly #events: HostGuardEvents;
  #holders: readonly RankHolder[];
  #timer: NodeJS.Timeout | undefined;
  #dead = false;
  /** Stopped on purpose: not ours to bring back. */
  #retired = false;
  #respawning = false;
  #lastRespawn = 0;
  #closed = false;

  private constructor(host: Remote<NameServerHost>, ticket: HostTicket, events: HostGuardEvents) {
    this.#host = host;
    this.#ticket = ticket;
    this.#holders = ticket.holders;
    this.#events = events;
  }

  /**
   * Joins the respawn order of the nameserver at `nameserverUri` (a nameserver on this host).
   * Returns undefined when it is not ours to respawn: started in the foreground, or its
   * process is not visible from here (another pid namespace).
   */
  static async join(nameserverUri: string, options: ConnectOptions, events: HostGuardEvents): Promise<HostGuard | undefined> {
    const host = await connect<NameServerHost>(formatUri({ ...parseUri(nameserverUri), object: NAMESERVER_HOST_ID }), options);
    try {
      const ticket = (await host.join(process.pid)) as HostTicket;
      if (!ticket.respawn || !processAlive(ticket.nameserverPid)) {
        await host.$close();
        return undefined;
      }
      const guard = new HostGuard(host, ticket, events);
      await host.ranksChanged.connect((holders) => {
        guard.#holders = holders;
      });
      await host.retiring.connect(() => {
        guard.#retired = true;
      });
      guard.#timer = setInterval(() => guard.#check(), WATCH_INTERVAL_MS);
      return guard;
    } catch (error) {
      await host.$close();
      throw error;
    }
  }

  /** Leaves the order (best effort, bounded) and stops watching. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (!this.#dead) {
      this.#host.$timeout = Math.min(this.#host.$timeout, LEAVE_TIMEOUT_MS);
      await this.#host.leave(process.pid, this.#ticket.rank).catch(() => {});
    }
    await this.#host.$close();
  }

  #check(): void {
    if (this.#closed) return;
    if (!this.#dead) {
      if (processAlive(this.#ticket.nameserverPid)) return;
      this.#dead = true;
      this.#events.onDeath();
    }
    // Every holder asks the same question of the same table: only the lowest live rank respawns.
    if (this.#retired || this.#respawning || Date.now() - this.#lastRespawn < RESPAWN_RETRY_MS) return;
    if (!hasRespawnDuty(this.#ticket.rank, this.#holders, processAlive)) return;
    this.#respawn();
  }

  #respawn(): void {
    this.#respawning = true;
    this.#lastRespawn = Date.now();
    const command = this.#ticket.respawn!;
    startDetachedNameServer({ argv: command.argv, logFile: command.logFile })
      .catch((error: unknown) => {
        // Lost the port to another starter: a nameserver runs, which is all we wanted.
        if (!(error instanceof NameServerStartError && error.reason === "port-in-use")) this.#events.onError(error, "respawning the nameserver failed");
      })
      .finally(() => {
        this.#respawning = false;
      });
  }
}
