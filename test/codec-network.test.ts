/** Values of every kind over the network, through a real daemon and proxy. */
import { describe, expect, it } from "vitest";
import { expose } from "../src/index.js";
import { binaries, expectSameBinary, nameOf, Point } from "./codec-helpers.js";
import { resources } from "./helpers.js";

describe("values over the network", () => {
  const use = resources();

  @expose
  class Echo {
    echo<T>(value: T): T {
      return value;
    }
    echoAll(...values: unknown[]): unknown[] {
      return values;
    }
    /** What the remote object received: typeof, or the constructor's name for objects. */
    typeName(value: unknown): string {
      return typeof value === "object" && value !== null ? value.constructor.name : typeof value;
    }
  }

  async function echoProxy() {
    const daemon = await use.daemon();
    return use.connect<Echo>(daemon.register(new Echo(), "echo"));
  }

  const values: [string, unknown][] = [
    ["plain JSON", { a: [1, "x", null, { b: true }] }],
    ["a Date", new Date("2024-05-06T07:08:09.010Z")],
    ["a Map", new Map<unknown, unknown>([["a", 1], [2, new Date(3)]])],
    ["a Set", new Set([1, "two", 3n])],
    ["a BigInt", -(2n ** 80n)],
    ["undefined", undefined],
    ["nested undefined", [undefined, { u: undefined }]],
    ["NaN, Infinity and -0", [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
    ["a RegExp", /a+b/gi],
    ["a registered class", new Point(6, 8, new Date(9))],
    ...binaries().map((b): [string, unknown] => [`a ${nameOf(b)}`, b]),
  ];

  it("round trips every kind of value as an argument and a result", async () => {
    const proxy = await echoProxy();
    for (const [name, value] of values) {
      expect(await proxy.echo(value), name).toStrictEqual(value);
    }
  });

  it("gives the remote object the same types it was sent", async () => {
    const proxy = await echoProxy();
    for (const value of [new Date(0), new Map(), new Set(), new Point(1, 1), ...binaries()]) {
      expect(await proxy.typeName(value)).toBe(nameOf(value as object));
    }
    expect(await proxy.typeName(undefined)).toBe("undefined");
    expect(await proxy.typeName(1n)).toBe("bigint");
  });

  it("keeps binary types and bytes through a real call", async () => {
    const proxy = await echoProxy();
    for (const value of binaries()) {
      expectSameBinary(await proxy.echo(value), value);
    }
  });

  it("round trips a URL", async () => {
    const proxy = await echoProxy();
    const url = (await proxy.echo(new URL("http://127.0.0.1:9090/x?y=1"))) as URL;
    expect(url).toBeInstanceOf(URL);
    expect(url.href).toBe("http://127.0.0.1:9090/x?y=1");
  });

  it("round trips a registered class with its prototype", async () => {
    const proxy = await echoProxy();
    const point = (await proxy.echo(new Point(3, 4))) as Point;
    expect(point).toBeInstanceOf(Point);
    expect(point.norm()).toBe(5);
  });

  it("round trips a nested structure holding a Buffer, a Float64Array and a Map in one argument", async () => {
    const proxy = await echoProxy();
    const scan = {
      id: "scan-1",
      taken: new Date(1_700_000_000_000),
      raw: Buffer.from([0, 1, 2, 250, 255]),
      spectrum: Float64Array.of(1.5, Number.NaN, -0, 1e-300),
      settings: new Map<string, unknown>([
        ["gain", 3n],
        ["window", { from: 1500, to: 1600, weights: Float32Array.of(0.25, 0.5) }],
        ["tags", new Set(["ir", "lab-2"])],
      ]),
      frames: [{ index: 0, bytes: Uint16Array.of(1, 65535) }, { index: 1, bytes: Uint16Array.of() }],
    };
    const [first, second] = await proxy.echoAll(scan, "and a second argument");
    expect(first).toStrictEqual(scan);
    expect(second).toBe("and a second argument");
    const back = first as typeof scan;
    expect(Buffer.isBuffer(back.raw)).toBe(true);
    expectSameBinary(back.spectrum, scan.spectrum);
    expect(back.settings).toBeInstanceOf(Map);
    expectSameBinary((back.settings.get("window") as { weights: Float32Array }).weights, Float32Array.of(0.25, 0.5));
  });

  it("round trips 1 MiB buffers in both directions", async () => {
    const proxy = await echoProxy();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096;
    const floats = new Float64Array(1 << 17).map((_, i) => i / 3);
    const [b, f] = await proxy.echoAll(big, floats);
    expect((b as Buffer).equals(big)).toBe(true);
    expectSameBinary(f, floats);
  });
});
