/**
 * Robustness of a daemon against bad input on the wire, over each transport. A raw client
 * (a zeromq.js DEALER over ZeroMQ, a RawTcpPeer over TCP; see raw-wire.ts) speaks (broken)
 * protocol to a daemon directly; a well-behaved proxy to the same daemon must keep getting
 * correct answers before and after every case.
 */
import { afterEach, beforeEach, expect } from "vitest";
import { encodeValue } from "../../src/codec/values.js";
import { Daemon, endpointOf, type Remote } from "../../src/index.js";
import { encodeMessage, type OutFrame } from "../../src/protocol/frames.js";
import { Laser } from "../fixtures/laser.js";
import type { Resources, TransportKind } from "../helpers.js";
import { Bloat } from "./bloat.js";
import { RawPeer } from "./wire.js";

export const MiB = 1024 * 1024;
/** The daemon under test accepts at most this much per message (all frames together). */
export const DAEMON_MAX = 1 * MiB;
export const LASER = "laser";
export const BLOAT = "bloat";

/** A correct call message, as a proxy would send it. */
export function goodCall(id: number, member: string, args: unknown[], object = LASER): OutFrame[] {
  return encodeMessage({ kind: "call", id, oneway: false, object, member, args: encodeValue(args) });
}

/**
 * The daemon fed garbage in each test of a garbage-*.test.ts suite (a fresh one per test,
 * serving a Laser and a Bloat, with a well-behaved proxy to the Laser), as
 * `const fed = daemonFedGarbage(use, transport)` inside describe("a daemon fed garbage").
 */
export function daemonFedGarbage(use: Resources, transport: TransportKind) {
  let daemon: Daemon;
  let laser: Laser;
  let bloat: Bloat;
  let good: Remote<Laser>;
  let raw: RawPeer | undefined;
  let reported: { error: unknown; context: string }[];
  let healthChecks = 0;

  /** The well-behaved proxy gets correct answers: called before and after every case. */
  async function expectHealthy(): Promise<void> {
    const n = ++healthChecks;
    const value = { n, when: new Date(1_700_000_000_000 + n), tags: new Set(["a", `b${n}`]), bytes: Buffer.from([n & 0xff, 1, 2]) };
    expect(await good.echo(value)).toEqual(value);
    expect(await good.setPower(n)).toBe(n);
    expect(await good.power).toBe(n);
    expect(laser.power).toBe(n);
  }

  function peer(): RawPeer {
    raw = new RawPeer(transport, endpointOf(daemon.location));
    return raw;
  }

  beforeEach(async () => {
    reported = [];
    daemon = await use.daemon({ maxMessageSize: DAEMON_MAX, onError: (error, context) => reported.push({ error, context }) });
    laser = new Laser();
    bloat = new Bloat();
    daemon.register(laser, LASER);
    daemon.register(bloat, BLOAT);
    good = await use.connect<Laser>(daemon.uriFor(LASER), { timeout: 5000 });
    await expectHealthy();
  });

  afterEach(() => {
    raw?.close();
    raw = undefined;
  });

  return {
    get daemon(): Daemon {
      return daemon;
    },
    get laser(): Laser {
      return laser;
    },
    get bloat(): Bloat {
      return bloat;
    },
    get good(): Remote<Laser> {
      return good;
    },
    /** The raw peer of the test (closed after it); a test that closed it itself sets it to undefined. */
    get raw(): RawPeer | undefined {
      return raw;
    },
    set raw(peer: RawPeer | undefined) {
      raw = peer;
    },
    /** What the daemon reported through onError during the test. */
    get reported(): { error: unknown; context: string }[] {
      return reported;
    },
    /** How many times expectHealthy ran: the well-behaved proxy last set the laser's power to this. */
    get healthChecks(): number {
      return healthChecks;
    },
    expectHealthy,
    peer,
  };
}
