/**
 * The values table of docs/pyro5.md, row by row, where no other test checks it: what crosses
 * between TypeScript and Python Pyro5 with the json and the serpent serializer, both ways, and
 * what is refused with which error. Codec rows need no Python; the others run the real Pyro5 5.15
 * (test/pyro5-python.ts): a Python daemon returning Python values to pyro-ts's client
 * (test/fixtures/pyro5/values_daemon.py) and a Python client of a pyro-ts daemon
 * (values_client.py). Needs python3 and dpkg-deb for those: elsewhere they say why and skip,
 * except under CI, where they must run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, Daemon, expose, NamingError, pyro5, RemoteError, SerializeError } from "../src/index.js";
import { createPyro5Proxy } from "../src/pyro5/client/pyro5-proxy.js";
import { jsonSerializer } from "../src/pyro5/wire/json-serializer.js";
import { serpentSerializer } from "../src/pyro5/wire/serpent.js";
import { mustRunPyro5, pyro5Unavailable, runPython, startPython } from "./pyro5-python.js";

const SERIALIZERS = [jsonSerializer, serpentSerializer] as const;
const text = (serializer: (typeof SERIALIZERS)[number], value: unknown): string =>
  serializer.encode(value).toString("utf8").replace("# serpent utf-8 python3.2\n", "");

describe("values: the codec (no Python)", () => {
  it.each(SERIALIZERS.map((s) => [s.name, s] as const))("%s: an integral number below 1e21 is written as an int, the others as floats", (_name, serializer) => {
    expect(text(serializer, [2, -7, 2 ** 53 - 1, 1e20])).toBe("[2,-7,9007199254740991,100000000000000000000]");
    expect(text(serializer, [2.5, -0, 1e21])).toBe("[2.5,-0.0,1e+21]");
  });

  it("beyond 2^53 an integral number is written by json in its shortest digits, by serpent exactly", () => {
    // The same double either way, but Python reads two different ints: send a bigint for an exact one.
    expect(text(jsonSerializer, 2 ** 60)).toBe("1152921504606846976");
    expect(text(serpentSerializer, 2 ** 60)).toBe("1152921504606846976");
    expect(text(jsonSerializer, 2n ** 60n)).toBe("1152921504606846976");
  });

  it.each(SERIALIZERS.map((s) => [s.name, s] as const))("%s: a bigint below 2^53 in size comes back as a number, from 2^53 on as a bigint", (_name, serializer) => {
    const back = serializer.decode(serializer.encode([5n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n)]));
    expect(back).toEqual([5, 2 ** 53 - 1, 2n ** 53n, -(2n ** 53n)]);
  });

  it.each(SERIALIZERS.map((s) => [s.name, s] as const))("%s: binary data other than Buffer/Uint8Array, and a RegExp, are refused with a SerializeError", (_name, serializer) => {
    for (const value of [new ArrayBuffer(2), new DataView(new ArrayBuffer(2)), new Int8Array(2), new Uint16Array(2), new Float64Array(2), /x/]) {
      expect(() => serializer.encode(value)).toThrow(SerializeError);
    }
  });

  it.each(SERIALIZERS.map((s) => [s.name, s] as const))("%s: an exception dict and other class dicts decode as plain objects", (name, serializer) => {
    const payload = name === "json"
      ? '[{"__class__": "builtins.ValueError", "__exception__": true, "args": ["x"], "attributes": {}}, {"__class__": "__main__.Thing", "a": 1}]'
      : "[{'__class__':'builtins.ValueError','__exception__':True,'args':('x',),'attributes':{}},{'__class__':'__main__.Thing','a':1}]";
    expect(serializer.decode(Buffer.from(payload))).toEqual([
      { __class__: "builtins.ValueError", __exception__: true, args: ["x"], attributes: {} },
      { __class__: "__main__.Thing", a: 1 },
    ]);
  });

  it("pyro5.connect takes PYRO: URIs only: a name is looked up first", async () => {
    await expect(pyro5.connect("PYRONAME:lab.stage")).rejects.toThrow(NamingError);
    await expect(pyro5.connect("PYRONAME:lab.stage")).rejects.toThrow(/pyro5\.lookup/);
  });

  it.each(SERIALIZERS.map((s) => [s.name, s] as const))("%s: a proxy is refused as a value, with what to send instead", (_name, serializer) => {
    const proxy = createPyro5Proxy({
      pool: undefined as never, uri: "PYRO:obj@127.0.0.1:1", objectId: "obj", serializer, timeout: 1000, revive: (value) => value,
      metadata: { methods: ["add"], oneway: [], attrs: [] },
    });
    expect(() => text(serializer, [proxy])).toThrow(SerializeError);
    expect(() => text(serializer, { nested: [proxy] })).toThrow(/proxy cannot be sent as a value: pass its \$uri/);
  });
});

const unavailable = pyro5Unavailable();

if (unavailable && mustRunPyro5) {
  it("runs against the real Pyro5 under CI", () => {
    throw new Error(`CI is set, so the Pyro5 values tests must run: ${unavailable}`);
  });
}

interface Values {
  value(name: string): unknown;
  describe(value: unknown): [string, string];
  describe_all(values: unknown[]): [string, string][];
  ping(): string;
}

/** What a pyro-ts client gets for each Python value (values_daemon.py), by serializer; an Error: the call rejects with it. */
const FROM_PYTHON: [name: string, json: unknown, serpent: unknown][] = [
  ["max_safe", 2 ** 53 - 1, 2 ** 53 - 1],
  ["two_to_53", 2n ** 53n, 2n ** 53n],
  ["float_int", 3, 3],
  ["set", [1, 2], new Set([1, 2])],
  ["frozenset", /Pyro5\.errors\.SerializeError.*frozenset/, new Set([3])],
  ["empty_set", [], []],
  ["tuple", [1, "a"], [1, "a"]],
  ["keys", { 7: "a", "2.5": "b", false: "c" }, { 7: "a", "2.5": "b", false: "c" }],
  ["none_key", { null: "d" }, /builtins\.TypeError.*NoneType/],
  ["tuple_key", /builtins\.TypeError.*keys must be str/, /^SerializeError: serpent: a dict key of type tuple cannot be a property name/],
  ["bytes", /Pyro5\.errors\.SerializeError.*bytes/, Buffer.from([0, 1, 255])],
  ["bytearray", /Pyro5\.errors\.SerializeError.*bytearray/, Buffer.from("ab")],
  ["datetime", "2024-01-02T03:04:05.123456", "2024-01-02T03:04:05.123456"],
  ["aware", "2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05+00:00"],
  ["date", "2024-01-02", "2024-01-02"],
  ["time", /Pyro5\.errors\.SerializeError.*datetime\.time/, "01:02:03"],
  ["timedelta", /Pyro5\.errors\.SerializeError.*timedelta/, 1.5],
  ["decimal", "1.10", "1.10"],
  ["uuid", "00000000-0000-0000-0000-000000000005", "00000000-0000-0000-0000-000000000005"],
  ["complex", /Pyro5\.errors\.SerializeError.*complex/, { real: 1, imag: -2 }],
  ["thing", { a: 1, b: "x", __class__: "__main__.Thing" }, { a: 1, b: "x", __class__: "__main__.Thing" }],
  ["exception", { __class__: "builtins.ValueError", __exception__: true, args: ["returned, not raised", 2], attributes: {} },
    { __class__: "builtins.ValueError", __exception__: true, args: ["returned, not raised", 2], attributes: {} }],
  ["uri", "PYRO:obj@127.0.0.1:5555", "PYRO:obj@127.0.0.1:5555"],
  ["nested_uri", { where: ["PYRO:obj@127.0.0.1:5555"] }, { where: ["PYRO:obj@127.0.0.1:5555"] }],
  ["lone_surrogate", /surrogates not allowed/, "a\ud800b"],
];

/** What a Python method receives for each TypeScript argument ([type, repr] as values_daemon.py describes it). */
const TO_PYTHON: [label: string, value: unknown, json: [string, string], serpent: [string, string]][] = [
  ["an integral number", 2, ["int", "2"], ["int", "2"]],
  ["a fractional number", 2.5, ["float", "2.5"], ["float", "2.5"]],
  ["-0", -0, ["float", "-0.0"], ["float", "-0.0"]],
  ["1e21", 1e21, ["float", "1e+21"], ["float", "1e+21"]],
  ["NaN", NaN, ["float", "nan"], ["float", "nan"]],
  ["-Infinity", -Infinity, ["float", "-inf"], ["float", "-inf"]],
  ["a bigint", 2n ** 64n, ["int", "18446744073709551616"], ["int", "18446744073709551616"]],
  ["a small bigint", 5n, ["int", "5"], ["int", "5"]],
  ["undefined", undefined, ["NoneType", "None"], ["NoneType", "None"]],
  ["an array", [1, "a"], ["list", "[1, 'a']"], ["list", "[1, 'a']"]],
  ["an object with an undefined field", { u: undefined }, ["dict", "{'u': None}"], ["dict", "{'u': None}"]],
  ["a Map", new Map([["a", 1]]), ["dict", "{'a': 1}"], ["dict", "{'a': 1}"]],
  ["a Set", new Set([2, 1]), ["list", "[2, 1]"], ["set", "[1, 2]"]],
  ["an empty Set", new Set(), ["list", "[]"], ["tuple", "()"]],
  ["a Set holding an array", new Set([[1, 2]]), ["list", "[[1, 2]]"], ["set", "[(1, 2)]"]],
  ["a Date", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), ["str", "'2024-01-02T03:04:05.006Z'"], ["str", "'2024-01-02T03:04:05.006Z'"]],
  ["an Error (RangeError)", new RangeError("far"), ["builtins.ValueError", "['far']"], ["builtins.ValueError", "['far']"]],
  ["a URI string", "PYRO:obj@127.0.0.1:5555", ["str", "'PYRO:obj@127.0.0.1:5555'"], ["str", "'PYRO:obj@127.0.0.1:5555'"]],
  ["a lone surrogate", "a\ud800b", ["str", "'a\\ud800b'"], ["str", "'a\\ud800b'"]],
];

describe.skipIf(unavailable !== undefined)(`values: a Python Pyro5 daemon and pyro-ts's client${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let daemon: Awaited<ReturnType<typeof startPython>>;

  beforeAll(async () => {
    daemon = await startPython("values_daemon.py", []);
  }, 30_000);

  afterAll(async () => {
    await daemon?.stop();
  });

  /** One proxy per value: a Python daemon closes the connection after a SerializeError. */
  const valueOf = async (serializer: "json" | "serpent", name: string): Promise<unknown> => {
    const values = await pyro5.connect<Values>(daemon.ready, { serializer });
    try {
      return await values.value(name);
    } catch (error) {
      return error;
    } finally {
      await values.$close();
    }
  };

  describe.each(["json", "serpent"] as const)("Python values arriving over %s", (serializer) => {
    it.each(FROM_PYTHON.map(([name, json, serpent]) => [name, serializer === "json" ? json : serpent] as const))("%s", async (name, expected) => {
      const got = await valueOf(serializer, name);
      if (expected instanceof RegExp) {
        expect(got).toBeInstanceOf(Error);
        const error = got as Error;
        // Python refused to send it (a PythonError), or pyro-ts refused to read it (a SerializeError).
        expect(error instanceof pyro5.PythonError || error instanceof SerializeError).toBe(true);
        const what = error instanceof pyro5.PythonError ? `${error.pythonType}: ${error.message}` : `${error.name}: ${error.message}`;
        expect(what).toMatch(expected);
      } else {
        expect(got).toEqual(expected);
      }
    });
  });

  it("json and serpent agree on what an integer is: a number up to 2^53 - 1, a bigint beyond", async () => {
    expect(typeof (await valueOf("json", "max_safe"))).toBe("number");
    expect(typeof (await valueOf("serpent", "two_to_53"))).toBe("bigint");
  });

  it.each(["json", "serpent"] as const)("%s: what a Python method receives for each TypeScript argument", async (serializer) => {
    const values = await pyro5.connect<Values>(daemon.ready, { serializer });
    try {
      const got = await values.describe_all(TO_PYTHON.map(([, value]) => value));
      expect(got.map((seen, i) => [TO_PYTHON[i]![0], seen])).toEqual(TO_PYTHON.map(([label, , json, serpent]) => [label, serializer === "json" ? json : serpent]));
      // serpent's stand-in for bytes: Python gets a dict, which serpent.tobytes() turns into bytes.
      if (serializer === "serpent") expect(await values.describe(Buffer.from([0, 1, 255]))).toEqual(["dict", "{'data': 'AAH/', 'encoding': 'base64'}"]);
    } finally {
      await values.$close();
    }
  });

  it("json: a Buffer argument is refused here with a SerializeError before anything is sent; the proxy goes on", async () => {
    const values = await pyro5.connect<Values>(daemon.ready, { serializer: "json" });
    try {
      const refused = await values.describe(Buffer.from("x")).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(SerializeError);
      expect((refused as Error).message).toMatch(/bytes cannot be sent with the json serializer.*serpent/);
      expect(await values.ping()).toBe("pong");
    } finally {
      await values.$close();
    }
  });

  it("a Python exception arrives as a PythonError (a RemoteError) with its Python type", async () => {
    const values = await pyro5.connect<Values>(daemon.ready);
    try {
      const error = await values.value("no such value").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject({ pythonType: "builtins.KeyError", name: "KeyError", message: "'no such value'", args: ["no such value"] });
      expect((error as RemoteError).remoteStack).toMatch(/Traceback[\s\S]*KeyError/);
    } finally {
      await values.$close();
    }
  });

  it("the call after a SerializeError reply opens a new connection, as Pyro5's proxy does", async () => {
    const values = await pyro5.connect<Values>(daemon.ready, { serializer: "json" });
    try {
      await expect(values.value("bytes")).rejects.toMatchObject({ pythonType: "Pyro5.errors.SerializeError" });
      expect(await values.ping()).toBe("pong");
    } finally {
      await values.$close();
    }
  });
});

/** What TypeScript received, as one line of text: types shown (bigint as 5n, Buffer as hex, Set and arrays apart, a proxy as Proxy<its URI>). */
function show(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "object") return String(value);
  if (Buffer.isBuffer(value)) return `Buffer<${value.toString("hex")}>`;
  if (value instanceof Set) return `Set{${[...value].map(show).join(",")}}`;
  if (Array.isArray(value)) return `[${value.map(show).join(",")}]`;
  if ("$uri" in value) return `Proxy<${String((value as { $uri: unknown }).$uri)}>`;
  return `{${Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}:${show(item)}`).join(",")}}`;
}

@expose
class Widget {
  hello(): number {
    return 1;
  }
}

@expose
class TypeScriptValues {
  /** A pyro-ts proxy (set by the test), returned by make("proxy"). */
  proxy: unknown;

  describe(value: unknown): string {
    return show(value);
  }

  make(name: string): unknown {
    const made: Record<string, () => unknown> = {
      int: () => 2,
      float: () => 2.5,
      negative_zero: () => -0,
      e21: () => 1e21,
      bigint: () => 2n ** 64n,
      small_bigint: () => 5n,
      nan: () => NaN,
      array: () => [1, "a"],
      set: () => new Set([1, 2]),
      empty_set: () => new Set(),
      map: () => new Map([["a", 1]]),
      undefined_field: () => ({ u: undefined }),
      date: () => new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)),
      buffer: () => Buffer.from([0, 1, 255]),
      error: () => new RangeError("far"),
      uri: () => "PYRO:obj@127.0.0.1:5555",
      instance: () => new Widget(),
      after_serialize_error: () => "still served",
      map_number_key: () => new Map([[1, "a"]]),
      proxy: () => this.proxy,
    };
    const make = made[name];
    if (!make) throw new RangeError(`no value ${name}`);
    return make();
  }
}

interface ClientReport {
  serializer: string;
  sent: Record<string, string | { error: string; message: string }>;
  received: Record<string, [string, string] | { error: string; message: string }>;
}

const refusedInPython = (what: string) => ({ error: "Pyro5.errors.SerializeError", message: expect.stringContaining(`don't know how to serialize class <class '${what}'>`) as unknown });

describe.skipIf(unavailable !== undefined)(`values: a Python Pyro5 client and a pyro-ts daemon${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let daemon: Daemon;
  const values = new TypeScriptValues();
  const reports: Record<string, ClientReport> = {};

  beforeAll(async () => {
    daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
    await daemon.start();
    daemon.register(values, "values");
    values.proxy = await connect(daemon.uriFor("values"));
    for (const [serializer, env] of [["serpent", {}], ["json", { PYRO_SERIALIZER: "json" }]] as const) {
      const run = await runPython("values_client.py", [daemon.pyro5UriFor("values")], { env, timeoutMs: 30_000 });
      if (run.code !== 0) throw new Error(`values_client.py failed (code ${run.code}):\n${run.stderr}\n${run.stdout}`);
      reports[serializer] = JSON.parse(run.stdout) as ClientReport;
    }
  }, 70_000);

  afterAll(async () => {
    await (values.proxy as { $close?: () => Promise<void> } | undefined)?.$close?.();
    await daemon?.close();
  });

  it("Python clients use serpent unless told json, and pyro-ts answers both", () => {
    expect(reports.serpent!.serializer).toBe("serpent");
    expect(reports.json!.serializer).toBe("json");
  });

  it.each(["serpent", "json"] as const)("%s: what TypeScript receives for each Python argument", (serializer) => {
    const common = {
      int: "42",
      big: "1180591620717411303424n",
      float_int: "3",
      tuple: '[1,"a"]',
      keys: '{"7":"a","2.5":"b","false":"c"}',
      datetime: '"2024-01-02T03:04:05"',
      decimal: '"1.10"',
      thing: '{"a":1,"b":"x","__class__":"__main__.Thing"}',
      exception: '{"__class__":"builtins.ValueError","__exception__":true,"args":["passed, not raised"],"attributes":{}}',
      // A URI arrives as its string, a proxy as a Pyro5 proxy (connecting on its first call), as in results.
      uri: '"PYRO:obj@127.0.0.1:5555"',
      proxy: "Proxy<PYRO:obj@127.0.0.1:5555>",
    };
    const bySerializer = serializer === "serpent"
      ? { set: "Set{1,2}", frozenset: "Set{3}", bytes: "Buffer<0001ff>", complex: '{"real":1,"imag":-2}' }
      // Python's json serializer refuses these before sending anything.
      : { set: "[1,2]", frozenset: refusedInPython("frozenset"), bytes: refusedInPython("bytes"), complex: refusedInPython("complex") };
    expect(reports[serializer]!.sent).toEqual({ ...common, ...bySerializer });
  });

  it.each(["serpent", "json"] as const)("%s: what Python receives for each TypeScript result, and what is refused", (serializer) => {
    const common = {
      int: ["int", "2"],
      float: ["float", "2.5"],
      negative_zero: ["float", "-0.0"],
      e21: ["float", "1e+21"],
      bigint: ["int", "18446744073709551616"],
      small_bigint: ["int", "5"],
      nan: ["float", "nan"],
      array: ["list", "[1, 'a']"],
      map: ["dict", "{'a': 1}"],
      undefined_field: ["dict", "{'u': None}"],
      date: ["str", "'2024-01-02T03:04:05.006Z'"],
      error: ["builtins.ValueError", "['far']"],
      uri: ["str", "'PYRO:obj@127.0.0.1:5555'"],
      // A SerializeError ends the connection (as Pyro5's daemon does); Python's proxy reconnects.
      after_serialize_error: ["str", "'still served'"],
      // A proxy has no state to send: refused, saying to send its URI.
      proxy: { error: "Pyro5.errors.SerializeError", message: expect.stringMatching(/^a proxy cannot be sent as a value: pass its \$uri/) as unknown },
    };
    const bySerializer = serializer === "serpent"
      ? {
        set: ["set", "[1, 2]"],
        empty_set: ["tuple", "()"],
        buffer: ["dict", "{'data': 'AAH/', 'encoding': 'base64'}"],
        instance: { error: "Pyro5.errors.SerializeError", message: "serpent cannot encode a class instance Widget" },
        map_number_key: { error: "Pyro5.errors.SerializeError", message: "a Map key must be a string to become a Python dict key, not a number" },
      }
      : {
        set: ["list", "[1, 2]"],
        empty_set: ["list", "[]"],
        buffer: { error: "Pyro5.errors.SerializeError", message: expect.stringMatching(/^bytes cannot be sent with the json serializer.*serpent/) as unknown },
        instance: { error: "Pyro5.errors.SerializeError", message: expect.stringMatching(/^an instance of Widget cannot be sent with the json serializer/) as unknown },
        map_number_key: { error: "Pyro5.errors.SerializeError", message: "a Map key of type number cannot be a json dict key (only strings)" },
      };
    expect(reports[serializer]!.received).toEqual({ ...common, ...bySerializer });
  });
});
