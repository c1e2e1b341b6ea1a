/** Who a nameserver is in its cluster across restarts, and the counters it must never reuse. */
export interface FederationIdentity {
  /** Its id: the origin of its registrations. */
  readonly id: string;
  /** Its membership incarnation; a restart must start above the last one used. */
  readonly incarnation: number;
  /** The version its next change must exceed. */
  readonly version: number;
  /** The Lamport clock its next claim must exceed. */
  readonly clock: number;
}

/** Where a restartable nameserver keeps its identity (file and sqlite storage do; memory storage does not). */
export interface IdentityKeeper {
  /** The identity to start with: the last one with a higher incarnation, or a new one. */
  identity(): FederationIdentity;
  /** Called after each local change, before it is acknowledged: the counters reached. */
  reached(version: number, clock: number): void;
}
