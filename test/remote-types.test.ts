/**
 * Remote<T> is checked at compile time: `npm test` runs tsc over this file first, so a
 * wrong mapping fails the build. The runtime part only makes vitest count the file.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { ObjectMetadata, Remote, RemoteSignal, Slot, WritableKeys } from "../src/index.js";
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
