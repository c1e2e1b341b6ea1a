/**
 * Fuzz test: a seeded generator of our own sends random and mutated messages to a daemon
 * (serving the Laser fixture) and to a nameserver, over each transport, through raw clients
 * (zeromq.js DEALERs over ZeroMQ, RawTcpPeers over TCP; see raw-wire.ts):
 * flipped bits, truncated, dropped and duplicated frames, huge lengths and counts, deep
 * nesting, `__proto__`/`constructor`/`prototype` keys, wrong types in every position, the
 * oneway flag on anything, random kinds (the batch code 12 too), random superjson
 * annotations, and batches of all of it. Every message starts as a VALID one
 * (encodeMessage / encodeBatch / encodeValue) and is then mutated or not.
 *
 * What it checks, against docs/protocol.md:
 * - nothing crashes (an uncaught exception or unhandled rejection fails the run), the
 *   daemons never stop reading or answering (every wait is bounded);
 * - every message that must be answered gets exactly one reply (result or error) with the
 *   right correlation id, and a message that cannot be decoded gets an error; a oneway call,
 *   a heartbeat and an ack get none. The expectation is computed from the sent frames with
 *   the protocol's own decoder (see `expectedReplies` in fuzz/expected-replies.ts);
 * - everything the daemons send decodes (replies, error envelopes, events);
 * - a well-behaved proxy gets correct answers throughout: continuously while fuzzing
 *   (stateless checks), and at checkpoints every CHECK_EVERY messages, when no fuzz reply
 *   is outstanding (state checks: power, registered objects, nameserver count, a fresh
 *   name registered, looked up, listed and removed);
 * - no prototype pollution (Object/Array/Function/String prototypes unchanged);
 * - memory stays bounded: V8 heapUsed of this process (which runs the daemons) after a full
 *   GC (exposed at runtime with v8.setFlagsFromString) grows by less than MAX_HEAP_GROWTH
 *   over each run, and RSS stays below MAX_RSS; both are reported every MEASURE_EVERY messages;
 * - at the end both still answer, close cleanly, and this process holds no TCP socket to
 *   or from their ports (Linux: /proc/net/tcp matched against this process's own fds).
 *
 * Replay: PYRO_FUZZ_SEED (default DEFAULT_SEED) and PYRO_FUZZ_COUNT (default 100,000,
 * split between daemon and nameserver) over ZeroMQ, PYRO_FUZZ_TCP_COUNT (default 40,000)
 * over TCP. Every test name and assertion message carries both;
 * a failure also prints the last messages sent. The generator is deterministic, so the same
 * seed and count send the same messages (each target has its own stream: `-t daemon` alone
 * replays it too).
 * Longer local run: PYRO_FUZZ_COUNT=1000000 PYRO_FUZZ_SEED=$RANDOM npx vitest run test/fuzz.test.ts
 *
 * Over TCP the transport itself holds a whole message to maxMessageSize (and its frame count
 * to maxMessageSize / 4): a message over that ends the connection at its length prefix, as
 * libzmq does for a single frame over the limit. Such messages (the "oversize-total" mutation,
 * the 65,536-message batch) are sent by the bomb peer, not by the accounting fuzz peers.
 *
 * The generator, the mutations, the raw peers, the checks and the run itself are in test/fuzz/.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  connect,
  DAEMON_OBJECT_ID,
  Daemon,
  endpointOf,
  locateNs,
  NAMESERVER_NAME,
  NamingError,
  startNameServer,
  type NameServer,
  type Remote,
  type RunningNameServer,
} from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { countWarnings, expectNoSocketsTo } from "./fuzz/checks.js";
import { LASER, MAX_MESSAGE, planFor, PROBE, SEED, testTimeout } from "./fuzz/config.js";
import { Rng } from "./fuzz/rng.js";
import { fuzz } from "./fuzz/run.js";
import { validDaemonMessage, validNsMessage } from "./fuzz/valid-messages.js";
import { TRANSPORTS } from "./helpers.js";

interface DaemonApi {
  ping(): void;
  registered(): string[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

for (const { transport, count, daemonCount, nsCount, replay } of TRANSPORTS.map(planFor)) {
  describe(`fuzz over ${transport} (seed ${SEED}, ${count} messages; replay: ${replay})`, () => {
    it(
      `a daemon survives ${daemonCount} random and mutated messages (seed ${SEED}, count ${count})`,
      async () => {
        const warnings = new Map<string, number>();
        const restoreWarnings = countWarnings(["TimeoutOverflowWarning"], warnings);
        try {
          const reported = new Map<string, number>();
          const daemon = new Daemon({
            host: "127.0.0.1",
            port: 0,
            transport,
            maxMessageSize: MAX_MESSAGE,
            closeTimeout: 2000,
            onError: (_error, context) => {
              const key = /^oneway call .* failed$/s.test(context) ? "oneway call … failed" : context;
              reported.set(key, (reported.get(key) ?? 0) + 1);
            },
          });
          let closed = false;
          cleanups.push(async () => {
            if (!closed) await daemon.close();
          });
          const laser = new Laser();
          const probe = new Laser();
          // Started first: over TCP a daemon on port 0 knows its URIs once started.
          await daemon.start();
          daemon.register(laser, LASER);
          daemon.register(probe, PROBE);
          const port = (daemon.location as { port: number }).port;
          const options = { timeout: 15_000 };
          const good = await connect<Laser>(daemon.uriFor(LASER), options);
          const goodProbe = await connect<Laser>(daemon.uriFor(PROBE), options);
          const daemonObject = await connect<DaemonApi>(daemon.uriFor(DAEMON_OBJECT_ID), options);
          const proxies = [good, goodProbe, daemonObject];
          cleanups.push(async () => {
            for (const p of proxies) await p.$close();
          });

          const echoValue = (n: number) => ({
            n,
            text: `héllo \u{1F600} ${n}`,
            when: new Date(1_700_000_000_000 + n),
            tags: new Set(["a", `b${n}`]),
            map: new Map<unknown, unknown>([[n, [1, { deep: [n] }]], ["k", null]]),
            big: BigInt(n) * 1_000_000_000_000n,
            bytes: Buffer.from([n & 0xff, 1, 2]),
            floats: new Float64Array([n, 0.5]),
            missing: undefined,
          });
          const summary = await fuzz({
            name: "daemon",
            transport,
            replay,
            endpoint: endpointOf(daemon.location),
            count: daemonCount,
            rng: new Rng(SEED ^ 0x9e3779b9),
            registered: daemon.registered(),
            valid: validDaemonMessage,
            concurrent: async (n) => {
              const value = echoValue(n);
              expect(await good.echo(value), `echo #${n} while fuzzing [replay: ${replay}]`).toEqual(value);
              expect(await good.wavelength, `wavelength while fuzzing [replay: ${replay}]`).toBe(1550);
              // Only this client uses the probe: its state is exact even while the laser is fuzzed.
              expect(await goodProbe.setPower(n), `probe.setPower(${n}) [replay: ${replay}]`).toBe(n);
              expect(await goodProbe.power, `probe.power [replay: ${replay}]`).toBe(n);
            },
            checkpoint: async (n) => {
              const where = `at checkpoint ${n} [replay: ${replay}]`;
              const value = echoValue(1_000_000 + n);
              expect(await good.echo(value), `echo ${where}`).toEqual(value);
              expect(await good.setPower(n), `setPower ${where}`).toBe(n);
              expect(await good.power, `power ${where}`).toBe(n);
              expect(laser.power, `local power ${where}`).toBe(n);
              await expect(good.setPower(-1), `setPower(-1) ${where}`).rejects.toThrow("negative");
              await daemonObject.ping();
              expect((await daemonObject.registered()).sort(), `registered ${where}`).toEqual(daemon.registered().sort());
              expect(Object.getPrototypeOf(laser), `laser prototype ${where}`).toBe(Laser.prototype);
            },
          });
          console.log(`${summary}; reported locally: ${[...reported].map(([c, n]) => `${c} ${n}`).join(", ")}; warnings: ${[...warnings].map(([type, n]) => `${type} ${n}`).join(", ") || "none"}`);
          // Oneway calls that failed were reported locally, never answered.
          expect(reported.size, `onError reports [replay: ${replay}]`).toBeGreaterThan(0);

          // The daemon still answers, then closes cleanly, leaving no socket behind.
          expect(await good.echo("last"), `echo at the end [replay: ${replay}]`).toBe("last");
          for (const p of proxies) await p.$close();
          proxies.length = 0;
          await daemon.close();
          closed = true;
          await expectNoSocketsTo(port, `after the daemon closed [replay: ${replay}]`);
        } finally {
          restoreWarnings();
        }
      },
      testTimeout(count),
    );

    it(
      `a nameserver survives ${nsCount} random and mutated messages (seed ${SEED}, count ${count})`,
      async () => {
        // The nameserver's daemon reports failed oneway calls as process warnings.
        const warnings = new Map<string, number>();
        const restoreWarnings = countWarnings(["PyroDaemonWarning", "TimeoutOverflowWarning"], warnings);
        try {
          const running: RunningNameServer = await startNameServer({ host: "127.0.0.1", port: 0, broadcast: false, maxMessageSize: MAX_MESSAGE, transport });
          let closed = false;
          cleanups.push(async () => {
            if (!closed) await running.close();
          });
          const port = (running.daemon.location as { port: number }).port;
          const ns: Remote<NameServer> = await locateNs({ ns: `127.0.0.1:${port}`, nsTransport: transport, timeout: 15_000 });
          cleanups.push(async () => ns.$close());
          const probeUri = `PYRO:health@127.0.0.1:${port}`;
          let probeRemoved = 0;
          await ns.register("health.probe", probeUri, { metadata: ["health"] });

          const summary = await fuzz({
            name: "nameserver",
            transport,
            replay,
            endpoint: endpointOf(running.daemon.location),
            count: nsCount,
            rng: new Rng(SEED ^ 0x85ebca6b),
            registered: running.daemon.registered(),
            valid: (r, id) => validNsMessage(r, id, port),
            concurrent: async (n) => {
              // The nameserver's own entry is protected from every fuzzed remove, register and setMetadata.
              expect(await ns.lookup(NAMESERVER_NAME), `lookup of the nameserver's own name (#${n}) [replay: ${replay}]`).toBe(running.uri);
              await ns.ping();
              expect(await ns.count(), `count [replay: ${replay}]`).toBeGreaterThanOrEqual(1);
            },
            checkpoint: async (n) => {
              const where = `at checkpoint ${n} [replay: ${replay}]`;
              expect(await ns.count(), `count ${where}`).toBe(running.nameserver.count());
              // Everything the nameserver holds, as a client sees it.
              expect(await ns.list(), `list ${where}`).toEqual({ ...running.nameserver.list() });
              expect(await ns.list({ returnMetadata: true }), `list with metadata ${where}`).toEqual({ ...running.nameserver.list({ returnMetadata: true }) });
              // The name registered at the start; a fuzzed remove (a regex like "" matches every name) may have taken it: then register it again.
            if (running.nameserver.list({ prefix: "health.probe" })["health.probe"] === undefined) {
              probeRemoved++;
              await ns.register("health.probe", probeUri, { metadata: ["health"] });
            }
            expect(await ns.lookup("health.probe"), `lookup of health.probe ${where}`).toBe(probeUri);
            const name = `health.c${n}`;
              const uri = `PYRO:health_${n}@127.0.0.1:${port}`;
              await ns.register(name, uri, { metadata: ["health", `n${n}`] });
              expect(await ns.lookup(name), `lookup ${where}`).toBe(uri);
              expect(await ns.lookup(name, { returnMetadata: true }), `lookup with metadata ${where}`).toEqual({ uri, metadata: ["health", `n${n}`] });
              expect(await ns.list({ prefix: name }), `list ${where}`).toEqual({ [name]: uri });
              expect(await ns.list({ metadataAll: [`n${n}`], returnMetadata: true }), `list by tag ${where}`).toEqual({ [name]: { uri, metadata: ["health", `n${n}`] } });
              expect(await ns.remove(name), `remove ${where}`).toBe(1);
              await expect(ns.lookup(name), `lookup after remove ${where}`).rejects.toThrow(NamingError);
              expect(await ns.count(), `count ${where}`).toBe(running.nameserver.count());
            },
          });
          console.log(`${summary}; warnings: ${[...warnings].map(([type, n]) => `${type} ${n}`).join(", ") || "none"}; names at the end: ${running.nameserver.count()}; health.probe removed by the fuzzer: ${probeRemoved} time(s)`);

          // Still answers at the end, then closes cleanly, leaving no socket behind.
          expect(await ns.lookup(NAMESERVER_NAME), `lookup at the end [replay: ${replay}]`).toBe(running.uri);
          await ns.$close();
          await running.close();
          closed = true;
          await expectNoSocketsTo(port, `after the nameserver closed [replay: ${replay}]`);
        } finally {
          restoreWarnings();
        }
      },
      testTimeout(count),
    );
  });
}
