/**
 * Remote<T> is checked at compile time: `npm test` runs tsc over this file first, so a
 * wrong mapping fails the build. The runtime part only makes vitest count the file.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { Readable } from "node:stream";
import type { ObjectMetadata, Remote, RemoteSignal, RemoteStream, RemoteStreamCall, Slot, StreamItem, WritableKeys } from "../src/index.js";
import type { Laser } from "./fixtures/laser.js";

// Only the types matter: no value is ever called.
const laser = {} as Remote<Laser>;

describe("Remote<T>", () => {
  it("maps methods to functions returning promises of their awaited result", () => {
    expectTypeOf(laser.setPower).toEqualTypeOf<(mw: number) => Promise<number>>();
    expectTypeOf(laser.sleep).parameters.toEqualTypeOf<[ms: number]>();
    expectTypeOf(laser.blink).returns.toEqualTypeOf<Promise<void>>();
  });

  it("maps attributes to awaitables", () => {
    expectTypeOf(laser.power).toEqualTypeOf<PromiseLike<number>>();
    expectTypeOf<Awaited<typeof laser.wavelength>>().toEqualTypeOf<number>();
  });

  it("accepts only writable attributes, with their type, in $set", () => {
    expectTypeOf<WritableKeys<Laser>>().toEqualTypeOf<"power" | "blinks">();
    expectTypeOf(laser.$set<"power">).parameters.toEqualTypeOf<["power", number]>();
    // @ts-expect-error a getter without setter is read-only
    expectTypeOf(() => laser.$set("wavelength", 1)).toBeFunction();
    // @ts-expect-error wrong value type
    expectTypeOf(() => laser.$set("power", "high")).toBeFunction();
    // @ts-expect-error methods are not attributes
    expectTypeOf(() => laser.$set("setPower", 1)).toBeFunction();
  });

  it("maps Signal members to remote signals", () => {
    expectTypeOf(laser.powerChanged).toEqualTypeOf<RemoteSignal<[mw: number]>>();
    type PowerChanged = Remote<Laser>["powerChanged"];
    expectTypeOf<PowerChanged["connect"]>().parameter(0).toEqualTypeOf<Slot<[mw: number]>>();
    expectTypeOf<PowerChanged["connect"]>().returns.toEqualTypeOf<Promise<() => Promise<void>>>();
    expectTypeOf<PowerChanged["once"]>().returns.toEqualTypeOf<Promise<[mw: number]>>();
    // @ts-expect-error a slot with the wrong argument type
    expectTypeOf(() => laser.powerChanged.connect((mw: string) => mw)).toBeFunction();
  });

  it("hides members that are never remote", () => {
    // @ts-expect-error _internal is never exposed
    expectTypeOf(() => laser._internal).toBeFunction();
    // @ts-expect-error a remote proxy has no then: awaiting it sends nothing
    expectTypeOf(() => laser.then).toBeFunction();
    expectTypeOf<keyof Remote<Laser>>().not.toEqualTypeOf<string>();
  });

  it("has the $ controls", () => {
    expectTypeOf(laser.$uri).toEqualTypeOf<string>();
    expectTypeOf(laser.$timeout).toEqualTypeOf<number>();
    expectTypeOf(laser.$meta).returns.toEqualTypeOf<Promise<ObjectMetadata>>();
    expectTypeOf(laser.$close).returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf(laser.$lock).parameters.toEqualTypeOf<[owner?: string]>();
    expectTypeOf(laser.$unlock).returns.toEqualTypeOf<Promise<void>>();
  });

  it("has a local $connectionChanged signal that only the proxy emits", () => {
    type Changed = Remote<Laser>["$connectionChanged"];
    expectTypeOf<Changed["connect"]>().parameter(0).toEqualTypeOf<Slot<[connected: boolean]>>();
    expectTypeOf<Changed["connect"]>().returns.toEqualTypeOf<() => void>();
    expectTypeOf<Changed["once"]>().returns.toEqualTypeOf<Promise<[connected: boolean]>>();
    // @ts-expect-error users listen; they cannot emit
    expectTypeOf(() => laser.$connectionChanged.emit(true)).toBeFunction();
  });

  it("has a local $lockLost signal that tells why, and only the proxy emits", () => {
    type Lost = Remote<Laser>["$lockLost"];
    expectTypeOf<Lost["connect"]>().parameter(0).toEqualTypeOf<Slot<[reason: "disconnected" | "reset" | "refused" | "moved"]>>();
    expectTypeOf<Lost["connect"]>().returns.toEqualTypeOf<() => void>();
    expectTypeOf<Lost["once"]>().returns.toEqualTypeOf<Promise<[reason: "disconnected" | "reset" | "refused" | "moved"]>>();
    // @ts-expect-error users listen; they cannot emit
    expectTypeOf(() => laser.$lockLost.emit("moved")).toBeFunction();
  });

  it("keeps generic and overload-free signatures usable", () => {
    interface Api {
      add(a: number, b: number): number;
      find(q: { name: string }): Promise<string[] | undefined>;
      readonly ready: Promise<boolean>;
    }
    const api = {} as Remote<Api>;
    expectTypeOf(api.add).toEqualTypeOf<(a: number, b: number) => Promise<number>>();
    expectTypeOf(api.find).returns.toEqualTypeOf<Promise<string[] | undefined>>();
    expectTypeOf(api.ready).toEqualTypeOf<PromiseLike<boolean>>();
    expectTypeOf<Awaited<Promise<Remote<Api>>>>().toEqualTypeOf<Remote<Api>>();
  });
});

describe("Remote<T> of streaming methods", () => {
  class Sensor {
    async *readings(count: number, signal?: AbortSignal) {
      for (let i = 0; i < count && !signal?.aborted; i++) yield i;
    }
    async *required(count: number, signal: AbortSignal) {
      if (!signal.aborted) yield count;
    }
    *sync(n: number): Generator<string> {
      yield String(n);
    }
    frames(): AsyncIterable<Buffer> {
      return (async function* () {})();
    }
    async later(n: number): Promise<AsyncIterable<Float64Array>> {
      return (async function* () {
        yield new Float64Array(n);
      })();
    }
    stream(): Readable {
      return {} as Readable;
    }
    plain(n: number): number[] {
      return [n];
    }
    async name(): Promise<string> {
      return "sensor";
    }
    loose(): any {
      return undefined;
    }
  }
  const sensor = {} as Remote<Sensor>;

  it("maps a generator method to a call of its items, without the trailing AbortSignal", () => {
    expectTypeOf(sensor.readings).toEqualTypeOf<(count: number) => RemoteStreamCall<number>>();
    expectTypeOf(sensor.required).toEqualTypeOf<(count: number) => RemoteStreamCall<number>>();
    expectTypeOf<Awaited<ReturnType<typeof sensor.readings>>>().toEqualTypeOf<RemoteStream<number>>();
    expectTypeOf(sensor.sync).toEqualTypeOf<(n: number) => RemoteStreamCall<string>>();
    const iterate = async () => {
      for await (const s of sensor.sync(1)) expectTypeOf(s).toEqualTypeOf<string>();
      for await (const r of await sensor.readings(3)) expectTypeOf(r).toEqualTypeOf<number>();
    };
    expectTypeOf(iterate).toBeFunction();
  });

  it("maps methods returning async iterables (directly or in a promise, Node streams too) the same way", () => {
    expectTypeOf(sensor.frames).toEqualTypeOf<() => RemoteStreamCall<Buffer>>();
    expectTypeOf(sensor.later).toEqualTypeOf<(n: number) => RemoteStreamCall<Float64Array>>();
    expectTypeOf(sensor.stream).returns.toEqualTypeOf<RemoteStreamCall<any>>();
    expectTypeOf<StreamItem<AsyncGenerator<number>>>().toEqualTypeOf<number>();
    expectTypeOf<StreamItem<Generator<string>>>().toEqualTypeOf<string>();
    expectTypeOf<StreamItem<number[]>>().toEqualTypeOf<never>();
  });

  it("leaves plain methods, iterable values and methods returning any as promises", () => {
    expectTypeOf(sensor.plain).toEqualTypeOf<(n: number) => Promise<number[]>>();
    expectTypeOf(sensor.name).toEqualTypeOf<() => Promise<string>>();
    expectTypeOf(sensor.loose).toEqualTypeOf<() => Promise<any>>();
  });

  it("refuses an AbortSignal from the client", () => {
    // @ts-expect-error the daemon fills in the signal; the client cannot pass one
    expectTypeOf(() => sensor.readings(3, new AbortController().signal)).toBeFunction();
    // @ts-expect-error not even for a required signal parameter
    expectTypeOf(() => sensor.required(3, new AbortController().signal)).toBeFunction();
  });
});
