/** The timers of the membership protocol, in ms, with the defaults FEDERATION.md's numbers were reached with. */
export interface MembershipTiming {
  /** Beacon period while alone or leading the beacon domain (pizco's and Zyre's 1 s). */
  readonly beaconInterval: number;
  /** Random spread of each beacon period, as a fraction of it, so beacons do not synchronise. */
  readonly beaconJitter: number;
  /** Members that neither lead nor are alone beacon this many times more slowly. */
  readonly quietBeaconFactor: number;
  /** One member probed per period (memberlist's 1 s). */
  readonly probeInterval: number;
  /** Wait for a direct ack before asking others to probe (memberlist's 0.5 s). */
  readonly probeTimeout: number;
  /** Members asked to probe indirectly (memberlist's 3). */
  readonly indirectProbes: number;
  /** Changes are gossiped this often to `gossipFanout` members, only while there are changes. */
  readonly gossipInterval: number;
  readonly gossipFanout: number;
  /** Each change is sent `retransmitMult × ⌈log10(N + 1)⌉` times. */
  readonly retransmitMult: number;
  /** A suspect is declared dead after `max(suspicionMin, suspicionMult × log10(N) × probeInterval)`. */
  readonly suspicionMult: number;
  readonly suspicionMin: number;
  /** Least time between two handshakes with one endpoint. */
  readonly handshakeRetry: number;
  /** Period of handshakes with static peers that are not members. */
  readonly staticRetry: number;
  /** Dead and left members are forgotten after this long. */
  readonly forgetAfter: number;
}

export const DEFAULT_TIMING: MembershipTiming = {
  beaconInterval: 1000,
  beaconJitter: 0.1,
  quietBeaconFactor: 10,
  probeInterval: 1000,
  probeTimeout: 500,
  indirectProbes: 3,
  gossipInterval: 200,
  gossipFanout: 3,
  retransmitMult: 4,
  suspicionMult: 1.25,
  suspicionMin: 2000,
  handshakeRetry: 1000,
  staticRetry: 5000,
  forgetAfter: 3_600_000,
};

/** How long a suspect has to refute before it is declared dead, for a table of `members`. */
export function suspicionTimeout(timing: MembershipTiming, members: number): number {
  return Math.max(timing.suspicionMin, timing.suspicionMult * Math.log10(Math.max(members, 10)) * timing.probeInterval);
}

/** How many times each change is sent before it is dropped from the gossip queue. */
export function retransmitLimit(timing: MembershipTiming, members: number): number {
  return timing.retransmitMult * Math.ceil(Math.log10(members + 1));
}
