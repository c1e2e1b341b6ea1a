/** The fuzz test's configuration (fuzz.test.ts): seed, message counts, limits and cadences, from the environment or defaults. */
import { messageSize } from "../../src/protocol/frames.js";
import { MAX_FRAMES } from "../../src/transport/tcp/frame-codec.js";
import type { TransportKind } from "../helpers.js";
import type { Frames } from "./valid-messages.js";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

const DEFAULT_SEED = 0x5eed_2026;
export const SEED = envInt("PYRO_FUZZ_SEED", DEFAULT_SEED) >>> 0;
/** Top-level ZeroMQ messages sent, in total over both targets (a batch counts once). */
const COUNT = envInt("PYRO_FUZZ_COUNT", 100_000);
/** Top-level messages over TCP, in total over both targets: fewer, the protocol layer above is the same. */
const TCP_COUNT = envInt("PYRO_FUZZ_TCP_COUNT", 40_000);

/** Both targets accept at most this much per message (and libzmq per frame): small, so "too large" is cheap to reach. */
export const MAX_MESSAGE = 256 * 1024;
/**
 * No fuzz frame is larger: libzmq drops the connection of a peer that sends a single frame
 * over MAX_MESSAGE, losing the replies it is owed (that case is the BombPeer's).
 */
export const FRAME_LIMIT = 200 * 1024;
/** Well-behaved checks with the fuzz traffic quiet, every this many messages. */
export const CHECK_EVERY = 5000;
/** Expected replies a fuzz peer may have outstanding before it waits for half of them. */
export const WINDOW = 512;
/** Raw fuzz connections per target that send (and account for) the mutated messages. */
export const PEERS = 2;
/** Every this many messages (half-way first), one batch of the most messages the protocol allows. */
const MAX_BATCH_EVERY = 50_000;
/** Every this many messages, a separate raw peer sends one frame over MAX_MESSAGE (libzmq drops its connection). */
const BOMB_EVERY = 12_500;
/** No reply for this long while some are outstanding means the daemon hangs. */
export const STALL_MS = 15_000;
/** heapUsed is measured (after a full GC, which takes a while) every this many messages, and at the end. */
export const MEASURE_EVERY = 20_000;
/** Allowed growth of heapUsed (after a full GC) over one run. */
export const MAX_HEAP_GROWTH = 200 * 1024 * 1024;
/** RSS of this process (vitest included) must stay below this; it is reported, with V8's external memory. */
export const MAX_RSS = 1536 * 1024 * 1024;
/** A safety net only: hangs are caught by STALL_MS. The default run takes ~35 s (ZeroMQ). */
export const testTimeout = (count: number): number => 60_000 + count;

/** What one transport's run sends. */
interface Plan {
  readonly transport: TransportKind;
  /** Messages over both targets, and each one's share. */
  readonly count: number;
  readonly daemonCount: number;
  readonly nsCount: number;
  readonly replay: string;
}

export function planFor(transport: TransportKind): Plan {
  const count = transport === "zmq" ? COUNT : TCP_COUNT;
  const daemonCount = Math.ceil(count / 2);
  const variable = transport === "zmq" ? "PYRO_FUZZ_COUNT" : "PYRO_FUZZ_TCP_COUNT";
  return { transport, count, daemonCount, nsCount: count - daemonCount, replay: `PYRO_FUZZ_SEED=${SEED} ${variable}=${count} npx vitest run test/fuzz.test.ts -t "over ${transport}"` };
}

/** Over ZeroMQ the constants above; over TCP (fewer messages) scaled to the target's count: four bombs and one maximal batch half-way. */
export function cadence(transport: TransportKind, count: number): { readonly bombEvery: number; readonly maxBatchEvery: number } {
  if (transport === "zmq") return { bombEvery: BOMB_EVERY, maxBatchEvery: MAX_BATCH_EVERY };
  return { bombEvery: Math.max(1, Math.floor(count / 4)), maxBatchEvery: Math.max(2, 2 * Math.ceil(count / 2)) };
}

/** Whether the TCP transport lets a message through to the daemon (else it ends the connection): frame count and total size within the limits. */
export function fitsTcpFraming(frames: Frames, max: number): boolean {
  return frames.length <= MAX_FRAMES && frames.length * 4 <= max && messageSize(frames) <= max;
}

export const LASER = "laser";
export const PROBE = "probe";
