/**
 * A pyro-ts daemon serving Python Pyro5 clients (the `pyro5` option): an unchanged Python
 * Pyro5 5.15 proxy (test/fixtures/pyro5/client_of_pyrots.py) calls a TypeScript object with
 * serpent (Pyro5's default) and with json, and the results and exceptions it saw are checked
 * here. Needs python3 and dpkg-deb: elsewhere the suite says why and skips, except under CI.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callContext, Daemon, DaemonError, expose, oneway } from "../src/index.js";
import type { Pyro5Remote } from "../src/pyro5/index.js";
import { mustRunPyro5, pyro5Unavailable, runPython } from "./pyro5-python.js";

@expose
class Laser {
  readonly notes: string[] = [];
  readonly peers = new Set<string>();
  #power = 1.5;
  /** Not decorated: a plain field is never exposed. */
  hidden = "secret";

  get power(): number {
    return this.#power;
  }

  set power(value: number) {
    if (typeof value !== "number") throw new TypeError(`power must be a number, got ${typeof value}`);
    this.#power = value;
  }

  get model(): string {
    return "LX-1 ünïcødé";
  }

  echo(value: unknown): unknown {
    this.peers.add(callContext()?.peerId ?? "");
    return value;
  }

  /** What TypeScript received, so the test sees the value model from Python's side too. */
  describe(value: unknown): string {
    if (value === null) return "null";
    if (Array.isArray(value)) return `array:${value.length}`;
    if (Buffer.isBuffer(value)) return "Buffer";
    if (typeof value === "object") return `object:${Object.keys(value).join(",")}`;
    return `${typeof value}:${String(value)}`;
  }

  add(a: number, b: number): number {
    return a + b;
  }

  square(n: number | bigint): bigint {
    return BigInt(n) ** 2n;
  }

  @oneway
  note(text: string): void {
    this.notes.push(text);
  }

  *scan(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i * i;
  }

  async *scan_then_fail(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
    throw new RangeError("the scan ran off the end");
  }

  fail(kind: string): never {
    if (kind === "value") throw new RangeError(`bad value: ${kind}`);
    if (kind === "type") throw new TypeError("wrong type");
    throw new Error("plain failure");
  }

  /** Pyro's callback pattern: calls back the Python object passed as a proxy, then lets its connection go. */
  async call_back(listener: Pyro5Remote<{ hear(value: number): number }>, value: number): Promise<number> {
    try {
      return await listener.hear(value);
    } finally {
      await listener.$close();
    }
  }

  async fail_later(): Promise<never> {
    await sleep(1);
    throw new RangeError("failed after a while");
  }

  _secret(): string {
    return "never";
  }
}

interface Seen {
  serializer: string;
  echo: Record<string, { value: unknown; type: string; same: boolean }>;
  seen_by_typescript: Record<string, string>;
  special_floats: string[];
  [key: string]: unknown;
}

interface PythonError {
  error: string;
  message: string;
  traceback: string;
}

const unavailable = pyro5Unavailable();

if (unavailable && mustRunPyro5) {
  it("runs against the real Pyro5 under CI", () => {
    throw new Error(`CI is set, so the Pyro5 server tests must run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)(`a pyro-ts daemon serving Python Pyro5 clients${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let daemon: Daemon;
  let laser: Laser;
  const disconnected: string[] = [];

  beforeAll(async () => {
    daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
    await daemon.start();
    laser = new Laser();
    daemon.register(laser, "laser");
    daemon.clientDisconnected.connect((peerId) => void disconnected.push(peerId));
  });

  afterAll(async () => {
    await daemon?.close();
  });

  it("gives Pyro5 URIs once started", () => {
    const { host, port } = daemon.pyro5Location;
    expect(host).toBe("127.0.0.1");
    expect(port).toBeGreaterThan(0);
    expect(daemon.pyro5UriFor("laser")).toBe(`PYRO:laser@127.0.0.1:${port}`);
    expect(daemon.pyro5UriFor(laser)).toBe(`PYRO:laser@127.0.0.1:${port}`);
    expect(() => daemon.pyro5UriFor("nobody")).toThrow(DaemonError);
    expect(() => new Daemon({ pyro5: { port: 70000 } })).toThrow(RangeError);
  });

  describe.each([
    ["serpent", {}],
    ["json", { PYRO_SERIALIZER: "json" }],
  ] as const)("a Python client with %s", (serializer, env) => {
    let seen: Seen;
    const errorOf = (name: string): PythonError => seen[name] as PythonError;

    beforeAll(async () => {
      laser.notes.length = 0;
      laser.power = 1.5;
      const run = await runPython("client_of_pyrots.py", [daemon.pyro5UriFor("laser")], { env, timeoutMs: 30_000 });
      if (run.code !== 0) throw new Error(`the Python client failed (code ${run.code}):\n${run.stderr}\n${run.stdout}`);
      seen = JSON.parse(run.stdout) as Seen;
    }, 40_000);

    it(`speaks ${serializer}`, () => {
      expect(seen.serializer).toBe(serializer);
    });

    it("gets back the values it sent, of the same Python types", () => {
      for (const [key, { same }] of Object.entries(seen.echo)) expect({ key, same }).toEqual({ key, same: true });
      expect(seen.echo.big).toEqual({ value: 2 ** 70, type: "int", same: true });
      expect(seen.echo.float?.type).toBe("float");
      expect(seen.echo.int?.type).toBe("int");
      expect(seen.echo.unicode?.value).toBe("héllo wörld ✓ 日本 🚀");
      expect(seen.echo.none).toEqual({ value: null, type: "NoneType", same: true });
      expect(seen.echo.true?.type).toBe("bool");
      expect(seen.echo.tuple).toEqual({ value: [1, 2], type: "list", same: true });
      expect(seen.echo.dict?.value).toEqual({ a: 1, b: [true, false], ü: "x" });
    });

    it("arrives in TypeScript as the value model says", () => {
      expect(seen.seen_by_typescript).toEqual({
        int: "number:42",
        negative: "number:-7",
        float: "number:2.5",
        big: "bigint:1180591620717411303424",
        unicode: "string:héllo wörld ✓ 日本 🚀",
        list: "array:4",
        tuple: "array:2",
        dict: "object:a,b,ü",
        none: "null",
        true: "boolean:true",
        false: "boolean:false",
        nested: "object:x",
        empty: "string:",
      });
      expect(seen.special_floats).toEqual(["number:NaN", "number:Infinity", "number:-Infinity"]);
    });

    it("passes URIs as URI strings and proxies as Pyro5 proxies: a TypeScript method calls back a Python object (Pyro's callback pattern)", () => {
      const { sent, seen: uri } = seen.uri_argument as { sent: string; seen: string };
      expect(sent).toMatch(/^PYRO:obj_\w+@127\.0\.0\.1:\d+$/);
      expect(uri).toBe(`string:${sent}`);
      expect(seen.callback_through_proxy).toBe(42);
      expect(seen.callback_through_object).toBe(8);
      expect(seen.callback_heard).toEqual([21, 4]);
    });

    it("calls methods, reads attributes and writes writable ones", () => {
      expect(seen.add).toBe(5);
      expect(seen.add_floats).toBe(0.75);
      expect(seen.square).toEqual({ value: String(2n ** 80n), type: "int" });
      expect(seen.model).toBe("LX-1 ünïcødé");
      expect(seen.power_before).toBe(1.5);
      expect(seen.power_after).toBe(7.25);
      expect(errorOf("set_bad_power")).toMatchObject({ error: "builtins.TypeError", message: "power must be a number, got string" });
      expect(errorOf("set_readonly").error).toBe("builtins.AttributeError");
      expect(errorOf("get_unexposed").error).toBe("builtins.AttributeError");
    });

    it("gets the metadata in the handshake: methods (oneway ones too), oneway, attributes; nothing private", () => {
      const meta = { methods: ["add", "call_back", "describe", "echo", "fail", "fail_later", "note", "scan", "scan_then_fail", "square"], oneway: ["note"], attrs: ["model", "power"] };
      expect(seen.metadata_seen_by_proxy).toEqual(meta);
      expect(seen.get_metadata).toEqual(meta);
    });

    it("makes oneway calls that arrive in TypeScript, batched ones too", async () => {
      expect(seen.oneway_returned_at_once).toBe(true);
      expect(seen.oneway_batch).toBeNull();
      await expect.poll(() => [...laser.notes].sort(), { timeout: 5000 }).toEqual(["batched oneway 1", "batched oneway 2", "from python"]);
    });

    it("runs a batch up to its first failure, which Python raises as its own exception", () => {
      expect(seen.batch).toEqual([{ ok: 3 }, { ok: "in a batch" }, { error: "builtins.ValueError", message: "bad value: value" }]);
    });

    it("iterates TypeScript generators as Pyro5 item streams, and closes one early", () => {
      expect(seen.scan).toEqual([0, 1, 4, 9, 16]);
      expect(seen.scan_partial).toEqual([0, 1, 4]);
      expect(seen.scan_then_fail).toEqual([{ ok: 0 }, { ok: 1 }, { error: "builtins.ValueError", message: "the scan ran off the end" }]);
      expect(seen.after_streams).toBe(2);
    });

    it("raises TypeScript errors as Python exceptions, with the TypeScript stack as remote traceback", () => {
      expect(errorOf("value_error")).toMatchObject({ error: "builtins.ValueError", message: "bad value: value" });
      expect(errorOf("value_error").traceback).toContain("Remote traceback");
      expect(errorOf("value_error").traceback).toContain("Laser.fail");
      expect(errorOf("type_error")).toMatchObject({ error: "builtins.TypeError", message: "wrong type" });
      expect(errorOf("plain_error")).toMatchObject({ error: "builtins.RuntimeError", message: "Error: plain failure" });
      expect(errorOf("async_error")).toMatchObject({ error: "builtins.ValueError", message: "failed after a while" });
      expect(seen.after_errors).toEqual({ ok: 42 });
    });

    it("refuses keyword arguments, unknown and private members clearly", () => {
      expect(errorOf("kwargs").error).toBe("builtins.TypeError");
      expect(errorOf("kwargs").message).toContain("TypeScript has no keyword arguments");
      expect(errorOf("unknown_method_local").error).toBe("builtins.AttributeError");
      expect(errorOf("unknown_method_remote")).toMatchObject({ error: "builtins.AttributeError" });
      expect(errorOf("unknown_method_remote").message).toContain("no_such_method");
      expect(errorOf("private_method").error).toBe("builtins.AttributeError");
    });

    it("serves the Pyro.Daemon object: ping, get_metadata, registered, info, MSG_PING", () => {
      expect(seen.ping).toBeNull();
      expect(seen.registered).toEqual(["Pyro.Daemon", "laser", "pyro-ts.Daemon"]);
      expect(seen.info).toContain("Pyro5 clients served on 127.0.0.1:");
      expect(errorOf("get_metadata_unknown")).toMatchObject({ error: "Pyro5.errors.DaemonError" });
      expect(errorOf("get_metadata_unknown").message).toContain("unknown object");
      expect(errorOf("stream_unknown")).toMatchObject({ error: "Pyro5.errors.PyroError", message: "item stream terminated" });
      expect(seen.msg_ping).toBe(true);
    });

    it("refuses a connection to an unknown object in the handshake", () => {
      expect(errorOf("unknown_object").error).toBe("Pyro5.errors.CommunicationError");
      expect(errorOf("unknown_object").message).toContain("unknown object");
    });

    it("runs calls in a call context per connection, and lets connections go when the client does", async () => {
      expect([...laser.peers].every((peer) => peer.startsWith("pyro5:"))).toBe(true);
      await expect.poll(() => disconnected.filter((peer) => peer.startsWith("pyro5:")).length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    });
  });
});
