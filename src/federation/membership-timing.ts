/** The timers of the membership protocol, in ms, with the defaults FEDERATION.md's numbers were reached with. */
export interface MembershipTiming {
  /** Beacon period while alone or leading the beacon domain (pizco's and Zyre's 1 s). */
  readonly beaconInterval: number;
  /** Random spread of each beacon period, as a fraction of it, so beacons do not synchronise. */
  readonly beaconJitter: number;
  /** Members that neither lead nor are alone beacon this many times more slowly... */
  readonly quietBeaconFactor: number;
  /**
   * ...and more slowly still in a large cluster: all of them together send at most this many
   * beacons a second (each is read by every nameserver of the domain: at 1,000 members,
   * 10 a second is 620 B/s received by each; 100 a second would be 6.2 KB/s).
   */
  readonly quietBeaconsPerSecond: number;
  /**
   * One member probed per period. At memberlist's 1 s, with its random probe orders, a crash
   * is first suspected after 2 s on average and after 5 s one time in 50; at 0.5 s, with the
   * ring order of ProbeCycle, always within 1.5 s, and a crash is dead everywhere in about
   * 3.3 s at 100 nodes (FEDERATION.md: 5 s). It costs two pings and two acks a second per
   * nameserver: about 0.8 KB/s, the bulk of the idle traffic.
   */
  readonly probeInterval: number;
  /**
   * Wait for a direct ack before asking others to probe (memberlist's LAN 0.5 s, its
   * loopback profile's 0.2 s): a LAN answers in milliseconds; this also leaves the indirect
   * probes 0.3 s.
   */
  readonly probeTimeout: number;
  /**
   * Members asked to probe indirectly when a direct ping went unanswered. memberlist's 3
   * still fail together 0.6 % of the time at 5 % loss (each path is 4 messages): a false
   * suspicion, spread to every member and refuted, for one probe in 1,600. 5 make that one
   * in 50,000, and cost nothing while direct pings are answered.
   */
  readonly indirectProbes: number;
  /** Changes are gossiped this often to `gossipFanout` members, only while there are changes. */
  readonly gossipInterval: number;
  readonly gossipFanout: number;
  /** Each change is sent `retransmitMult × ⌈log10(N + 1)⌉` times. */
  readonly retransmitMult: number;
  /**
   * A suspect is declared dead after `max(suspicionMin, suspicionMult × log10(N) × probeInterval)`:
   * 2.2 s at 100 members, 3.3 s at 1,000. It must outlast a stall of 2 s (FEDERATION.md):
   * the earliest accusation comes `probeInterval - probeTimeout` after the stall starts (a
   * lost direct ping, then unanswered indirect ones), so the death comes 0.5 s after the
   * stalled member is back, and has refuted, to every member (Membership's pause handling).
   */
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
  quietBeaconsPerSecond: 10,
  probeInterval: 500,
  probeTimeout: 200,
  indirectProbes: 5,
  gossipInterval: 200,
  gossipFanout: 3,
  retransmitMult: 4,
  suspicionMult: 2.2,
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
