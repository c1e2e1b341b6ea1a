/**
 * A paired comparison, for effects smaller than this machine's swings in speed: two systems
 * in this one process, measured in short alternating rounds (which one goes first alternates
 * too), and the median of the per-round ratios printed beside each side's median and best.
 *
 *   npm run build
 *   node dist/bench/paired.js --transport tcp --workload pipelined        # pyro-ts against its raw baseline
 *   node dist/bench/paired.js --transport zmq --workload sequential --against ../other-checkout
 *                                                                         # this build against another (built) one
 *
 * A drift of the machine's speed over seconds hits both sides of a round alike and cancels in
 * its ratio; the best rounds of `npm run bench`, taken from different moments, do not have
 * that. Echo calls of the bench's 32-byte payload, after a warm-up (--warmup, 20,000 calls each).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { connect as connectHere } from "../src/index.js";
import type { BenchObject } from "./bench-object.js";
import { startChild as startChildHere, type Child } from "./children.js";
import { median, pipelined, roundRatios, timed, type Rate } from "./measure.js";
import { RawClient } from "./raw-client.js";
import { RawNetClient } from "./raw-net-client.js";

const { values } = parseArgs({
  options: {
    transport: { type: "string", default: "tcp" },
    workload: { type: "string", default: "pipelined" },
    rounds: { type: "string", default: "20" },
    calls: { type: "string" },
    against: { type: "string" },
    warmup: { type: "string", default: "20000" },
  },
});
const PAYLOAD = "pyro-ts benchmark payload 32 B..";
const transport = values.transport === "zmq" ? "zmq" : "tcp";
const sequential = values.workload === "sequential";
const rounds = Number(values.rounds);
const calls = Number(values.calls ?? (sequential ? 4000 : 60_000));
const warmup = Number(values.warmup);

interface Side {
  readonly name: string;
  readonly echo: () => Promise<unknown>;
  readonly stop: () => Promise<void>;
}

interface PyroInfo {
  readonly uri: string;
  readonly tcpUri: string;
}

/** pyro-ts of the build at `root` (this one when undefined): its own pyro-server child and client. */
async function pyroSide(root: string | undefined): Promise<Side> {
  const { connect } = root === undefined ? { connect: connectHere } : ((await import(resolve(root, "dist/src/index.js"))) as { connect: typeof connectHere });
  const { startChild } = root === undefined ? { startChild: startChildHere } : ((await import(resolve(root, "dist/bench/children.js"))) as { startChild: typeof startChildHere });
  const server: Child<PyroInfo> = await startChild<PyroInfo>("pyro-server");
  const proxy = await connect<BenchObject>(transport === "zmq" ? server.info.uri : server.info.tcpUri);
  return {
    name: `pyro-ts ${transport}${root === undefined ? "" : ` of ${root}`}`,
    echo: () => proxy.echo(PAYLOAD),
    stop: async () => {
      await proxy.$close();
      await server.stop();
    },
  };
}

/** The raw baseline of the transport: a zeromq.js ROUTER/DEALER or node:net length-prefixed echo. */
async function rawSide(): Promise<Side> {
  if (transport === "zmq") {
    const server = await startChildHere<{ endpoint: string }>("raw-server");
    const client = new RawClient(server.info.endpoint);
    return { name: "raw zeromq.js", echo: () => client.request(["e", PAYLOAD]), stop: async () => (await client.close(), await server.stop()) };
  }
  const server = await startChildHere<{ host: string; port: number }>("raw-net-server");
  const client = new RawNetClient(server.info);
  await client.ready;
  return { name: "raw node:net", echo: () => client.request("e", PAYLOAD), stop: async () => (await client.close(), await server.stop()) };
}

function round(side: Side): Promise<Rate> {
  return sequential
    ? timed(calls, async () => {
      for (let i = 0; i < calls; i++) await side.echo();
    })
    : pipelined(calls, 100, side.echo);
}

const sides: Side[] = [];
try {
  sides.push(await pyroSide(undefined), values.against === undefined ? await rawSide() : await pyroSide(values.against));
  for (let i = 0; i < warmup; i++) for (const side of sides) await side.echo();
  const rates: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    // Which side goes first alternates too.
    for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) rates[i as 0 | 1].push((await round(sides[i]!)).perSecond);
  }
  const ratios = roundRatios(rates[0], rates[1]);
  const workload = sequential ? "sequential calls" : "pipelined calls (100 in flight)";
  console.log(`${workload}, ${rounds} rounds of ${calls}:`);
  sides.forEach((side, i) => console.log(`  ${side.name}: median ${Math.round(median(rates[i as 0 | 1]))} calls/s, best ${Math.round(Math.max(...rates[i as 0 | 1]))}`));
  console.log(`  ratio ${sides[0]!.name} / ${sides[1]!.name}: median of the rounds' ${median(ratios).toFixed(3)} (from ${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)}); of the bests ${(Math.max(...rates[0]) / Math.max(...rates[1])).toFixed(3)}`);
} finally {
  for (const side of sides) await side.stop();
}
