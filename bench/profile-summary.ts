/**
 * Sums V8 CPU profiles (.cpuprofile, as `node --cpu-prof` writes them) by layer of pyro-ts and
 * by function: node dist/bench/profile-summary.js FILE... [--per CALLS] [--top N].
 * A sample counts for the function running (its self time); a native function without a
 * script of its own (JSON.parse, a socket's writev) counts for the layer of its caller.
 * With --per, times are also given in µs per call.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The layer a script belongs to; undefined for a native function (its caller's layer counts). */
export function layerOf(functionName: string, url: string): string | undefined {
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)") return "idle";
  if (functionName === "(program)") return "native, outside JS (libuv, syscalls, V8)";
  if (functionName === "(root)") return "idle";
  if (url === "") return undefined;
  if (url.includes("/node_modules/superjson/")) return "codec (superjson)";
  if (url.includes("/dist/src/codec/")) return "codec (values, binary)";
  if (url.includes("/dist/src/protocol/")) return "protocol/frames";
  if (url.includes("/dist/src/proxy/")) return "channel/proxy";
  if (url.includes("/dist/src/daemon/")) return "daemon dispatch";
  if (url.includes("/dist/src/transport/tcp/")) return "transport framing (TCP)";
  if (url.includes("/dist/src/transport/")) return "transport (ZeroMQ glue)";
  if (url.includes("/node_modules/zeromq/")) return "zeromq.js";
  if (url.includes("/dist/src/")) return "other pyro-ts (signal, errors)";
  if (url.includes("/dist/bench/")) return "bench harness";
  if (/^node:(net|stream|internal\/(stream_base_commons|streams|net))/.test(url)) return "node:net and streams";
  if (/^node:(internal\/)?(process\/task_queues|timers|internal\/timers|async_hooks|internal\/async_hooks)/.test(url)) return "node: ticks, timers";
  return `node: other (${url.replace(/^node:(internal\/)?/, "")})`;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: "string" }, top: { type: "string", default: "25" } } });
const per = values.per === undefined ? undefined : Number(values.per);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // The layer and label of each node, natives resolved through their callers.
  const layer = new Map<number, string>();
  const label = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const own = layerOf(node.callFrame.functionName, node.callFrame.url);
    const up = parent.get(id);
    const result = own ?? (up === undefined ? "native" : resolve(up));
    layer.set(id, result);
    return result;
  };
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url === "" ? "native" : `${basename(url)}:${lineNumber + 1}`;
    label.set(n.id, `${functionName || "(anonymous)"} ${where}`);
  }
  const layerTime = new Map<string, number>();
  const fnTime = new Map<string, { layer: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // The time until the next sample is this sample's.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const l = resolve(id);
    total += dt;
    layerTime.set(l, (layerTime.get(l) ?? 0) + dt);
    const name = label.get(id)!;
    const entry = fnTime.get(name) ?? { layer: l, us: 0 };
    entry.us += dt;
    fnTime.set(name, entry);
  }
  const busy = total - (layerTime.get("idle") ?? 0);
  const line = (name: string, us: number): string => {
    const perCall = per === undefined ? "" : `  ${(us / per).toFixed(2).padStart(7)} µs/call`;
    return `  ${name.padEnd(58)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${((100 * us) / busy).toFixed(1).padStart(5)} % of busy${perCall}`;
  };
  process.stdout.write(`${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s${per === undefined ? "" : `, ${(busy / per).toFixed(2)} µs busy per call over ${per} calls`}\n by layer (self time):\n`);
  for (const [name, us] of [...layerTime].sort((a, b) => b[1] - a[1])) if (name !== "idle") process.stdout.write(`${line(name, us)}\n`);
  process.stdout.write(` top functions (self time):\n`);
  for (const [name, { layer: l, us }] of [...fnTime].sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top))) {
    if (l === "idle") continue;
    process.stdout.write(`${line(`${name} [${l}]`, us)}\n`);
  }
  process.stdout.write("\n");
}
