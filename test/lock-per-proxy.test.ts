import { describe, expect, it } from "vitest";
import { Daemon, expose, lockable, LockedError, ProtocolError } from "../src/index.js";
import { decodeMessage, encodeMessage, HEADER_SIZE } from "../src/protocol/frames.js";
import { writeDigits } from "./garbage/wire.js";
import { KIND_CODES, PROTOCOL_VERSION } from "../src/protocol/message.js";
import { DAEMON_OBJECT_ID } from "../src/protocol/metadata.js";
import { Channel } from "../src/proxy/channel.js";
import { resolveTransportOptions } from "../src/transport/options.js";
import { resources } from "./helpers.js";

const use = resources();

@expose
@lockable
class Instrument {
  #value = 0;
  set(value: number): number {
    this.#value = value;
    return value;
  }
  get value(): number {
    return this.#value;
  }
  set level(value: number) {
    this.#value = value;
  }
  get level(): number {
    return this.#value;
  }
}

// Same options: both proxies share one connection to the daemon.
const options = { timeout: 3000 };
const TOKEN = "A".repeat(24);

function portOf(daemon: Daemon): number {
  return (daemon.location as { port: number }).port;
}

/** What the frames of `message` decode to, as a daemon would receive them. */
function received(frames: ReturnType<typeof encodeMessage>): Buffer[] {
  return frames.map((f) => (typeof f === "string" ? Buffer.from(f) : Buffer.from(f)));
}

describe("locks per proxy", () => {
  it("two proxies in one process: the other is refused, naming the holder, until the holder unlocks", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const a = await use.connect<Instrument>(uri, options);
    const b = await use.connect<Instrument>(uri, options);
    await a.$lock("alice@lab1");
    await a.$lock("alice@lab1"); // again: harmless
    expect(await a.set(1)).toBe(1);
    await a.$set("level", 2);
    expect(await a.value).toBe(2);
    const refused = await b.set(3).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockedError);
    expect((refused as Error).message).toMatch(/^"stage" is locked by alice@lab1 since \d{4}-/);
    await expect(b.value).rejects.toThrow(LockedError);
    await expect(b.$set("level", 4)).rejects.toThrow(LockedError);
    await expect(b.$lock("bob")).rejects.toThrow(/locked by alice@lab1/);
    await expect(b.$unlock()).rejects.toThrow(LockedError);
    expect(await a.value).toBe(2);
    await a.$unlock();
    expect(await b.set(5)).toBe(5);
    await b.$lock("bob");
    await expect(a.set(6)).rejects.toThrow(/locked by bob/);
  });

  it("$close of the non-holder keeps the lock; $close of the holder frees it", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const a = await use.connect<Instrument>(uri, options);
    const b = await use.connect<Instrument>(uri, options);
    const c = await use.connect<Instrument>(uri, options);
    const lost: string[] = [];
    a.$lockLost.connect((reason) => void lost.push(reason));
    await a.$lock("alice");
    await b.$close();
    await expect(c.set(1)).rejects.toThrow(/locked by alice/);
    expect(await a.set(2)).toBe(2);
    await a.$close();
    expect(await c.set(3)).toBe(3);
    expect(lost).toEqual([]);
  });

  it("$lockLost after a daemon restart, and the lock can be taken again", async () => {
    const first = new Daemon({ host: "127.0.0.1", port: 0 });
    use.onCleanup(() => first.close());
    await first.start();
    const port = portOf(first);
    const uri = first.register(new Instrument(), "stage");
    const a = await use.connect<Instrument>(uri, options);
    const b = await use.connect<Instrument>(uri, options);
    await a.$lock("alice");
    const lost = a.$lockLost.once();
    const bLost = b.$lockLost.once().then(() => "b lost" as const);
    await first.close();
    const [reason] = await within(lost, 5000, "$lockLost");
    expect(reason).toBe("disconnected");

    const second = new Daemon({ host: "127.0.0.1", port });
    use.onCleanup(() => second.close());
    await second.start();
    second.register(new Instrument(), "stage");
    // The proxy holds no lock any more: its calls run like anyone's.
    await expect.poll(() => a.set(7).catch((e: unknown) => e), { timeout: 5000, interval: 100 }).toBe(7);
    await b.$lock("bob");
    await expect(a.set(8)).rejects.toThrow(/locked by bob/);
    // b never held a lock before: it was told nothing.
    expect(await Promise.race([bLost, new Promise((r) => setTimeout(() => r("quiet"), 50))])).toBe("quiet");
  });

  it("$lockLost when a call comes back refused because the daemon no longer holds the lock", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const a = await use.connect<Instrument>(uri, options);
    await a.$lock("alice");
    const lost = a.$lockLost.once();
    // Unregistering drops the object's lock (as an administrator would).
    daemon.unregister("stage");
    daemon.register(new Instrument(), "stage");
    await expect(a.set(1)).rejects.toThrow(/not locked by this proxy any more/);
    expect(await within(lost, 1000, "$lockLost")).toEqual(["refused"]);
    expect(await a.set(2)).toBe(2);
  });

  it("carries the token in call, get and set; old messages without one claim no lock", () => {
    const call = { kind: "call", id: 3, oneway: true, object: "o", member: "m", args: { value: { json: [1] }, attachments: [] }, lock: TOKEN } as const;
    expect(decodeMessage(received(encodeMessage(call)))).toEqual(call);
    const get = { kind: "get", id: 4, object: "o", member: "m", lock: TOKEN } as const;
    expect(decodeMessage(received(encodeMessage(get)))).toEqual(get);
    const set = { kind: "set", id: 5, object: "o", member: "m", value: { value: { json: 2, meta: { v: 1 } }, attachments: [] }, lock: TOKEN } as const;
    expect(decodeMessage(received(encodeMessage(set)))).toEqual(set);
    const plain = decodeMessage(received(encodeMessage({ kind: "get", id: 6, object: "o", member: "m" })));
    expect(plain).toEqual({ kind: "get", id: 6, object: "o", member: "m" });
    expect(plain.kind === "get" && plain.lock).toBeUndefined();
  });

  it("refuses malformed tokens with ProtocolError", () => {
    const header = Buffer.alloc(HEADER_SIZE);
    header[0] = PROTOCOL_VERSION;
    header[1] = KIND_CODES.get;
    header[2] = 2;
    writeDigits(header, 9, 4, 5);
    for (const token of [null, 7, "short", "x".repeat(65), "has space in it!!", "ünïcödé-ünïcödé-ü"]) {
      expect(() => decodeMessage([Buffer.concat([header, Buffer.from(JSON.stringify([token, "o", "m"]))])])).toThrow(ProtocolError);
    }
    // The flag without a token: the object id is read as one and refused.
    expect(() => decodeMessage([Buffer.concat([header, Buffer.from(JSON.stringify(["o", "m"]))])])).toThrow(/lock token/);
  });

  it("a peer's malformed or foreign token changes nothing", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Instrument(), "stage");
    const a = await use.connect<Instrument>(uri, options);
    const channel = new Channel(`tcp://127.0.0.1:${portOf(daemon)}`, resolveTransportOptions());
    use.onCleanup(() => channel.close());
    await expect(channel.invoke(DAEMON_OBJECT_ID, "lock", ["stage", "mallory", "bad token"], 3000)).rejects.toThrow(ProtocolError);
    await expect(channel.invoke(DAEMON_OBJECT_ID, "lock", ["stage", "mallory"], 3000)).rejects.toThrow(ProtocolError);
    expect(await channel.invoke(DAEMON_OBJECT_ID, "lockHolder", ["stage"], 3000)).toBeNull();
    await a.$lock("alice");
    // Guessing a token on another connection, or claiming one on an unlocked object, is refused.
    await expect(channel.invoke("stage", "set", [1], 3000, false, TOKEN)).rejects.toThrow(/locked by alice/);
    await expect(channel.invoke(DAEMON_OBJECT_ID, "unlock", ["stage", TOKEN], 3000)).rejects.toThrow(/locked by alice/);
    await expect(channel.invoke(DAEMON_OBJECT_ID, "unlock", ["stage", "bad token"], 3000)).rejects.toThrow(ProtocolError);
    expect(await a.set(2)).toBe(2);
    await a.$unlock();
    await expect(channel.invoke("stage", "set", [3], 3000, false, TOKEN)).rejects.toThrow(/not locked by this proxy any more/);
    expect(await channel.invoke("stage", "set", [4], 3000)).toBe(4);
  });
});

/** `promise`, or a failure naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
