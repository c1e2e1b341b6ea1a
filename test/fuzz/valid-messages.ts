/** Valid messages of the fuzz test (fuzz.test.ts), for the daemon serving the Laser and for the nameserver: each fuzz message starts as one. */
import { encodeValue } from "../../src/codec/values.js";
import { DAEMON_OBJECT_ID, NAMESERVER_NAME } from "../../src/index.js";
import { encodeMessage, type OutFrame } from "../../src/protocol/frames.js";
import { LASER } from "./config.js";
import { WORDS, type Rng } from "./rng.js";

export type Frames = Buffer[];

export const toBuffers = (frames: OutFrame[]): Frames => frames.map((f) => (typeof f === "string" ? Buffer.from(f, "utf8") : Buffer.from(f.buffer, f.byteOffset, f.byteLength)));

export function call(id: number, object: string, member: string, args: unknown[], oneway = false): Frames {
  return toBuffers(encodeMessage({ kind: "call", id, oneway, object, member, args: encodeValue(args) }));
}

/** A random value of any type the codec knows, nested a little. */
function randomValue(r: Rng, depth = 0): unknown {
  if (depth >= 4 || r.chance(0.55)) {
    switch (r.int(17)) {
      case 0: return r.int(2001) - 1000;
      case 1: return (r.next() - 0.5) * 1e6;
      case 2: return r.string();
      case 3: return r.chance(0.5);
      case 4: return null;
      case 5: return undefined;
      case 6: return r.pick([NaN, -0, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE]);
      case 7: return BigInt(r.int(1e9)) * 10n ** BigInt(r.int(30)) * (r.chance(0.5) ? -1n : 1n);
      case 8: return new Date(r.int(4e12) - 1e12);
      case 9: return r.pick([/ab+c/gi, /^x$/, new RegExp("[\\u0000-\\u001f]", "u")]);
      case 10: return new URL(`http://example.com/${r.int(1000)}?q=${r.int(9)}`);
      case 11: return r.pick([new RangeError(`e${r.int(9)}`), new Error(r.string())]);
      case 12: return Buffer.from(r.bytes(r.int(48)));
      case 13: return new Float64Array([r.next(), -1.5, r.int(9)]);
      case 14: return new Uint16Array(r.int(6));
      case 15: return new BigInt64Array([BigInt(r.int(1000)), -1n]);
      default: return r.pick(WORDS);
    }
  }
  const n = r.int(5);
  switch (r.int(4)) {
    case 0: return Array.from({ length: n }, () => randomValue(r, depth + 1));
    case 1: {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) o[r.pick(["a", "b", "c", "0", "length", "x y", "é", "prototype_", "__proto", "constructor_"])] = randomValue(r, depth + 1);
      return o;
    }
    case 2: return new Map(Array.from({ length: n }, () => [randomValue(r, depth + 1), randomValue(r, depth + 1)] as const));
    default: return new Set(Array.from({ length: n }, () => randomValue(r, depth + 1)));
  }
}

function safeCall(id: number, object: string, member: string, args: () => unknown[], oneway = false): Frames {
  try {
    return call(id, object, member, args(), oneway);
  } catch {
    // The value could not be encoded (the generator made something the codec refuses): send plain JSON.
    return call(id, object, member, [1], oneway);
  }
}

const simple = (kind: "get" | "subscribe" | "unsubscribe", id: number, object: string, name: string): Frames =>
  toBuffers(kind === "get" ? encodeMessage({ kind, id, object, member: name }) : encodeMessage({ kind, id, object, signal: name }));

/** Valid messages for the daemon serving the Laser: real members, real arguments, and a few wrong names. */
export function validDaemonMessage(r: Rng, id: number): Frames {
  return r.weighted<() => Frames>([
    [14, () => safeCall(id, LASER, "echo", () => [randomValue(r)])],
    [8, () => call(id, LASER, "setPower", [r.weighted<number>([[4, r.int(1000)], [1, -r.int(100) - 1], [1, r.next() * 1e6]])])],
    [3, () => call(id, LASER, "sleep", [r.int(10)])],
    [6, () => call(id, LASER, "blink", [r.int(5)], true)],
    [5, () => simple("get", id, LASER, r.pick(["power", "wavelength"]))],
    [4, () => toBuffers(encodeMessage({ kind: "set", id, object: LASER, member: "power", value: encodeValue(r.int(100)) }))],
    [3, () => simple("subscribe", id, LASER, "powerChanged")],
    [2, () => simple("unsubscribe", id, LASER, "powerChanged")],
    [2, () => toBuffers(encodeMessage({ kind: "heartbeat", id: 0 }))],
    [2, () => toBuffers(encodeMessage({ kind: "ack", id: r.weighted<number>([[3, r.int(100)], [1, 0xffffffff]]) }))],
    [2, () => call(id, DAEMON_OBJECT_ID, "ping", [])],
    [1, () => call(id, DAEMON_OBJECT_ID, "info", [])],
    [1, () => call(id, DAEMON_OBJECT_ID, "registered", [])],
    [2, () => call(id, DAEMON_OBJECT_ID, "metadata", [r.pick([LASER, DAEMON_OBJECT_ID, "nope", ""])])],
    [1, () => call(id, DAEMON_OBJECT_ID, r.pick(["lock", "unlock", "lockHolder"]), [r.pick([LASER, DAEMON_OBJECT_ID, "nope"]), r.pick(["fuzz", "", "x".repeat(300)])])],
    [3, () => call(id, r.pick([LASER, DAEMON_OBJECT_ID, "nope"]), r.pick(WORDS), [r.int(9)], r.chance(0.2))],
    [1, () => simple("get", id, LASER, r.pick(WORDS))],
    [1, () => simple("subscribe", id, r.pick([LASER, "nope"]), r.pick(WORDS))],
  ])();
}

const NS = NAMESERVER_NAME;
const fzName = (r: Rng): string => r.weighted<string>([[8, `fz.${r.int(200)}`], [2, `fz.${r.int(20)}.${r.pick(["a", "b", "é", "\u{1F600}"])}`], [1, r.pick(["", "fz bad", "fz/x", "x".repeat(300), "pyro-ts.NameServer", "fz.\uffff", "__proto__", "constructor", "prototype"])]]);
const fzTags = (r: Rng): string[] => Array.from({ length: r.int(4) }, () => r.weighted<string>([[9, r.pick(["red", "green", "blue", "fz", "é"])], [1, r.pick(["", "a,b", "t".repeat(200)])]]));
const fzUri = (r: Rng, port: number): string => r.weighted<string>([[9, `PYRO:obj_${r.int(50)}@127.0.0.1:${port}`], [1, r.pick(["PYRO:x", "PYRONAME:fz.1", "nope", "PYRO:a@[::1]:1", ""])]]);
const fzRegex = (r: Rng): string => r.pick(["fz\\.1", "fz\\.[0-9]+", "fz\\.(1|2)*", "fz\\.(a|b)+$", "fz(", "fz\\.(?=1)", "fz\\.(.)\\1", `fz${"a".repeat(600)}`]);

/** Valid messages for the nameserver: its real methods with real (and sometimes invalid) arguments. */
export function validNsMessage(r: Rng, id: number, port: number): Frames {
  const options = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    if (r.chance(0.3)) o.safe = r.chance(0.5);
    if (r.chance(0.5)) o.metadata = fzTags(r);
    return o;
  };
  const listOptions = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    if (r.chance(0.7)) o.prefix = r.pick(["fz.1", "fz.2", "fz.19", "fz.7", `fz.${r.int(200)}`]);
    if (r.chance(0.3)) o.regex = fzRegex(r);
    if (r.chance(0.3)) o.metadataAll = fzTags(r);
    if (r.chance(0.3)) o.metadataAny = fzTags(r);
    if (r.chance(0.3)) o.returnMetadata = true;
    return o;
  };
  return r.weighted<() => Frames>([
    [14, () => call(id, NS, "register", [fzName(r), fzUri(r, port), ...(r.chance(0.6) ? [options()] : [])])],
    [10, () => call(id, NS, "lookup", [fzName(r), ...(r.chance(0.4) ? [{ returnMetadata: r.chance(0.5) }] : [])])],
    [6, () => call(id, NS, "list", [listOptions()])],
    [6, () => call(id, NS, "remove", [r.weighted<unknown>([[5, fzName(r)], [2, { prefix: `fz.${r.int(30)}` }], [2, { regex: fzRegex(r) }], [1, { prefix: "" }]])])],
    [5, () => call(id, NS, "setMetadata", [fzName(r), fzTags(r)])],
    [3, () => call(id, NS, "count", [])],
    [2, () => call(id, NS, "ping", [], r.chance(0.3))],
    [2, () => simple("subscribe", id, NS, r.pick(["registered", "removed", "metadataChanged"]))],
    [1, () => simple("unsubscribe", id, NS, r.pick(["registered", "removed", "metadataChanged"]))],
    [1, () => toBuffers(encodeMessage({ kind: "heartbeat", id: 0 }))],
    [1, () => toBuffers(encodeMessage({ kind: "ack", id: r.int(50) }))],
    [2, () => call(id, DAEMON_OBJECT_ID, r.pick(["ping", "info", "registered"]), [])],
    [1, () => call(id, DAEMON_OBJECT_ID, "metadata", [NS])],
    [2, () => call(id, r.pick([NS, DAEMON_OBJECT_ID, "nope"]), r.pick([...WORDS, "register", "_registerSelf", "lookup"]), [fzName(r)], r.chance(0.2))],
    [1, () => simple("get", id, NS, r.pick(["registered", "count", "__proto__"]))],
  ])();
}
