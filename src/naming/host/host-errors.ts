import { NamingError } from "../../errors.js";

/** Why a detached nameserver did not come up. */
export type NameServerStartFailure = "port-in-use" | "exited" | "timeout";

/**
 * A detached nameserver did not report ready: its port was taken (by another nameserver
 * that won the race, or by another program), it exited, or it took too long. The message
 * ends with the last lines of its log.
 */
export class NameServerStartError extends NamingError {
  override name = "NameServerStartError";

  constructor(
    readonly reason: NameServerStartFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A nameserver pid file that cannot be read as one (truncated, edited, not ours). */
export class PidFileError extends NamingError {
  override name = "PidFileError";

  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
