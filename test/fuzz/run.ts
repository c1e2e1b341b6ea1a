/** The fuzz run of fuzz.test.ts, common to both targets (daemon and nameserver). */
import { expect } from "vitest";
import { DAEMON_OBJECT_ID } from "../../src/index.js";
import { isBatch } from "../../src/protocol/frames.js";
import type { TransportKind } from "../helpers.js";
import { expectNoPollution, fullGc, healthLoop, heapUsed, MB } from "./checks.js";
import { cadence, CHECK_EVERY, fitsTcpFraming, FRAME_LIMIT, MAX_HEAP_GROWTH, MAX_MESSAGE, MAX_RSS, MEASURE_EVERY, PEERS, SEED, WINDOW } from "./config.js";
import { expectedForValid, expectedReplies } from "./expected-replies.js";
import { batchOf, maxBatch, mutate } from "./mutations.js";
import { BombPeer, FuzzPeer, Tally } from "./peers.js";
import type { Rng } from "./rng.js";
import type { Frames } from "./valid-messages.js";

export interface Target {
  readonly name: string;
  readonly transport: TransportKind;
  readonly replay: string;
  readonly endpoint: string;
  readonly count: number;
  readonly rng: Rng;
  /** The object ids the daemon serves. */
  readonly registered: readonly string[];
  valid(r: Rng, id: number): Frames;
  /** Checks that need no quiet: run continuously while fuzzing. */
  concurrent(n: number): Promise<void>;
  /** Checks run when no fuzz reply is outstanding. */
  checkpoint(n: number): Promise<void>;
}

interface RecentMessage {
  readonly index: number;
  readonly mutations: string[];
  readonly preview: string;
}

function preview(frames: Frames): string {
  return frames.map((f) => (f.length > 48 ? `${f.subarray(0, 48).toString("hex")}…(${f.length} B)` : f.toString("hex"))).join(" | ");
}

export async function fuzz(target: Target): Promise<string> {
  // vitest rewrites every stack trace through source maps, and the daemons build one for
  // each message they refuse (error envelopes carry the stack): that costs more than the
  // daemons themselves. V8's own formatting (as in production) is restored afterwards.
  const prepareStackTrace = Error.prepareStackTrace;
  (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
  const { rng: r } = target;
  const tally = new Tally();
  const { transport, replay } = target;
  const { bombEvery, maxBatchEvery } = cadence(transport, target.count);
  const peers = Array.from({ length: PEERS }, (_, i) => new FuzzPeer(transport, target.endpoint, tally, `${target.name} peer ${i}`));
  const bomber = new BombPeer(transport, target.endpoint);
  const recent: RecentMessage[] = [];
  let index = 0;
  const where = (): string => `[${target.name} over ${transport}, after message #${index}; replay: ${replay}]`;
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  let bombs = 0;
  let overFraming = 0;
  let batches = 0;
  let mutated = 0;
  let health: ReturnType<typeof healthLoop> | undefined;
  try {
    await target.checkpoint(0);
    const baseline = heapUsed();
    let maxGrowth = 0;
    const memorySeries: string[] = [];
    health = healthLoop((n) => target.concurrent(n));
    for (index = 0; index < target.count; index++) {
      const applied: string[] = [];
      let frames: Frames;
      const id = (index + 1) >>> 0;
      if (index % maxBatchEvery === maxBatchEvery / 2) {
        batches++;
        frames = maxBatch(r, applied);
      } else if (r.chance(0.08)) {
        batches++;
        const inner = Array.from({ length: 2 + r.int(7) }, (_, i) => {
          const m = target.valid(r, (id * 16 + i) >>> 0);
          return r.chance(0.4) ? mutate(r, m, applied) : m;
        });
        frames = batchOf(r, inner, applied);
      } else {
        frames = target.valid(r, id);
        if (r.chance(0.8)) frames = mutate(r, frames, applied);
      }
      if (frames.some((f) => f.length > FRAME_LIMIT)) frames = frames.map((f) => (f.length > FRAME_LIMIT ? f.subarray(0, FRAME_LIMIT) : f));
      if (applied.length > 0) mutated++;
      recent.push({ index, mutations: applied, preview: preview(frames) });
      if (recent.length > 12) recent.shift();
      const peer = r.pick(peers);
      if (transport === "tcp" && !fitsTcpFraming(frames, MAX_MESSAGE)) {
        // The TCP transport ends the connection of whoever sends this, replies owed included.
        overFraming++;
        await bomber.send(frames);
      } else {
        // An unmutated message is valid: its header alone says what it gets (no decoding it again).
        await peer.send(frames, applied.length === 0 && !isBatch(frames) ? expectedForValid(frames) : expectedReplies(frames, MAX_MESSAGE));
      }
      if (peer.outstanding > WINDOW) await peer.drain(WINDOW / 2);
      if (index % bombEvery === bombEvery - 1) {
        bombs++;
        await bomber.bomb(r);
      }
      if (index % CHECK_EVERY === CHECK_EVERY - 1 || index === target.count - 1) {
        for (const p of peers) await p.drain(0);
        expect(tally.problems, `protocol violations ${where()}`).toEqual([]);
        if (health.failure() !== undefined) throw health.failure();
        await target.checkpoint(index + 1);
        expectNoPollution(where());
        if ((index + 1) % MEASURE_EVERY === 0 || index === target.count - 1) {
          const growth = heapUsed() - baseline;
          maxGrowth = Math.max(maxGrowth, growth);
          const usage = process.memoryUsage();
          memorySeries.push(`${index + 1}: heap +${MB(growth)}, rss ${MB(usage.rss)}, external ${MB(usage.external)}`);
          expect(growth, `heapUsed grew by ${MB(growth)} ${where()}`).toBeLessThan(MAX_HEAP_GROWTH);
          expect(usage.rss, `rss is ${MB(usage.rss)} ${where()}`).toBeLessThan(MAX_RSS);
        }
      }
    }
    const { passed, slowestMs } = await health.stop();
    health = undefined;
    expect(passed, `well-behaved checks while fuzzing ${where()}`).toBeGreaterThan(0);
    // The raw peers themselves are still served.
    for (const [i, p] of peers.entries()) {
      const registered = await p.request(0xfffffff0 + i, DAEMON_OBJECT_ID, "registered", [], 5000);
      expect(Array.isArray(registered) ? [...(registered as string[])].sort() : registered, `raw peer ${i} after fuzzing ${where()}`).toEqual([...target.registered].sort());
    }
    for (const p of peers) await p.drain(0);
    expect(tally.problems, `protocol violations ${where()}`).toEqual([]);
    const seconds = (Date.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const errors = [...tally.errorNames].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`).join(", ");
    return (
      `${target.name} over ${transport}: ${target.count} messages (${mutated} mutated, ${batches} batches, ${bombs} oversized frames${transport === "tcp" ? `, ${overFraming} messages over the TCP framing's limits sent by the bomb peer` : ""}, ${bomber.disconnects} disconnects by ${transport === "zmq" ? "libzmq" : "the transport"}) in ${seconds.toFixed(1)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, all threads); ` +
      `${tally.replies} replies (errors: ${errors}), ${tally.events} events, ${tally.resets} resets; ` +
      `${passed} well-behaved checks while fuzzing (slowest ${slowestMs} ms); heapUsed growth max ${MB(maxGrowth)}${fullGc ? " after full GC" : " (no GC available)"}; memory by message: ${memorySeries.join("; ")}`
    );
  } catch (error) {
    // Say how to replay, and what was sent last.
    console.error(
      `fuzz ${target.name} over ${transport} failed at message #${index} (seed ${SEED}, count ${target.count}). Replay: ${replay}\nlast messages:\n` +
        recent.map((m) => `  #${m.index} [${m.mutations.join(", ") || "valid"}] ${m.preview}`).join("\n"),
    );
    throw error;
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
    await health?.stop().catch(() => {});
    for (const p of peers) await p.close();
    await bomber.close();
  }
}
