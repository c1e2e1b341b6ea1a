/** Error envelopes: how a thrown error travels in a reply and is rebuilt on the other side. */
import { describe, expect, it } from "vitest";
import { fromEnvelope, toEnvelope, withoutProps, type ErrorEnvelope } from "../src/codec/error-envelope.js";
import { CommunicationError, ConnectionClosedError, DaemonError, MessageTooLargeError, NamingError, ProtocolError, PyroError, registerError, RemoteError, SecurityError, SerializeError, TimeoutError, UnknownMemberError } from "../src/index.js";
import { viaWire } from "./codec-helpers.js";

describe("error envelopes", () => {
  class InstrumentError extends Error {
    override name = "InstrumentError";
    constructor(
      message: string,
      readonly code: number,
      readonly details?: unknown,
    ) {
      super(message);
    }
  }
  registerError(InstrumentError);

  /** Through an envelope and the value codec, as an error reply travels. */
  const travel = (thrown: unknown): Error => fromEnvelope(viaWire(toEnvelope(thrown)));

  it("describes a plain Error by name, message and stack", () => {
    const error = new Error("broken");
    const envelope = toEnvelope(error);
    expect(envelope).toEqual({ name: "Error", message: "broken", stack: error.stack });
  });

  it("rebuilds an unregistered error as a RemoteError with name, message and remote stack", () => {
    const original = new RangeError("out of range");
    const error = travel(original) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.name).toBe("RangeError");
    expect(error.message).toBe("out of range");
    expect(error.remoteStack).toBe(original.stack);
    expect(error.cause).toBeUndefined();
  });

  it("keeps a cause chain", () => {
    const root = new Error("root", { cause: "a string cause" });
    const error = travel(new TypeError("outer", { cause: new RangeError("middle", { cause: root }) }));
    expect(error).toMatchObject({ name: "TypeError", message: "outer" });
    const middle = error.cause as RemoteError;
    expect(middle).toBeInstanceOf(RemoteError);
    expect(middle).toMatchObject({ name: "RangeError", message: "middle" });
    expect(middle.cause).toMatchObject({ name: "Error", message: "root" });
    expect((middle.cause as Error).cause).toMatchObject({ name: "Error", message: "a string cause" });
  });

  it("stops a cyclic or very long cause chain", () => {
    const cyclic = new Error("loop");
    cyclic.cause = cyclic;
    let depth = 0;
    for (let e: ErrorEnvelope | undefined = toEnvelope(cyclic); e; e = e.cause) depth++;
    expect(depth).toBe(9);
    expect(travel(cyclic).message).toBe("loop");
  });

  it.each<[string, unknown, string]>([
    ["a string", "just a string", "just a string"],
    ["a number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["an object", { code: 1 }, "[object Object]"],
    ["a symbol", Symbol("sym"), "Symbol(sym)"],
    ["an object whose toString throws", { toString: () => { throw new Error("no"); } }, "[object Object]"],
  ])("turns a thrown %s into an Error envelope", (_name, thrown, message) => {
    expect(toEnvelope(thrown)).toEqual({ name: "Error", message });
    const error = travel(thrown);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: "Error", message });
  });

  it("rebuilds a registered class with its own properties", () => {
    const original = new InstrumentError("overheated", 42, { celsius: 95, since: new Date(0) });
    const error = travel(original) as InstrumentError & { remoteStack?: string };
    expect(error).toBeInstanceOf(InstrumentError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("InstrumentError");
    expect(error.message).toBe("overheated");
    expect(error.code).toBe(42);
    expect(error.details).toStrictEqual({ celsius: 95, since: new Date(0) });
    expect(error.stack).toBe(original.stack);
    expect(error.remoteStack).toBe(original.stack);
  });

  it("keeps serializable own properties and drops functions and symbols", () => {
    const error = Object.assign(new Error("with props"), { code: "E_LASER", errno: -5, callback: () => 1, tag: Symbol("t") });
    expect(toEnvelope(error).props).toEqual({ code: "E_LASER", errno: -5 });
    expect(withoutProps({ ...toEnvelope(error), cause: toEnvelope(error) })).toEqual({
      name: "Error",
      message: "with props",
      stack: error.stack,
      cause: { name: "Error", message: "with props", stack: error.stack },
    });
  });

  it.each<[string, Error, new (...args: never[]) => Error]>([
    ["TimeoutError", new TimeoutError("no reply"), TimeoutError],
    ["ConnectionClosedError", new ConnectionClosedError("gone"), ConnectionClosedError],
    ["ProtocolError", new ProtocolError("bad frame"), ProtocolError],
    ["MessageTooLargeError", new MessageTooLargeError("too big"), MessageTooLargeError],
    ["SerializeError", new SerializeError("cannot"), SerializeError],
    ["CommunicationError", new CommunicationError("comm"), CommunicationError],
    ["NamingError", new NamingError("no name"), NamingError],
    ["DaemonError", new DaemonError("refused"), DaemonError],
    ["UnknownMemberError", new UnknownMemberError("no member"), UnknownMemberError],
    ["SecurityError", new SecurityError("denied"), SecurityError],
    ["PyroError", new PyroError("base"), PyroError],
  ])("rebuilds pyro-ts's own %s as that class", (name, original, Class) => {
    const error = travel(original);
    expect(error).toBeInstanceOf(Class);
    expect(error).toBeInstanceOf(PyroError);
    expect(error.name).toBe(name);
    expect(error.message).toBe(original.message);
  });

  it("keeps a TimeoutError a CommunicationError, so retry logic still sees it", () => {
    expect(travel(new TimeoutError("late"))).toBeInstanceOf(CommunicationError);
  });

  it("rebuilds a RemoteError received from further away as a RemoteError with its name", () => {
    const error = travel(new RemoteError("ValueError", "from python", "Traceback..."));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: "ValueError", message: "from python" });
  });

  it.each<[string, unknown]>([
    ["a number", 42],
    ["null", null],
    ["a string", "error"],
    ["an empty object", {}],
    ["a name that is not a string", { name: 1, message: "m" }],
    ["a missing message", { name: "Error" }],
    ["a stack that is not a string", { name: "Error", message: "m", stack: 5 }],
  ])("turns a malformed envelope (%s) into a ProtocolError", (_name, envelope) => {
    const error = fromEnvelope(envelope);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toBe("error reply is not a valid error envelope");
  });

  it("turns a malformed cause into a ProtocolError cause", () => {
    const error = fromEnvelope({ name: "Error", message: "outer", cause: 7 });
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.cause).toBeInstanceOf(ProtocolError);
  });

  it("ignores __proto__ and reserved names among the properties of a registered error", () => {
    const envelope: unknown = JSON.parse(
      '{"name":"InstrumentError","type":"InstrumentError","message":"m","props":{"__proto__":{"polluted":true},"message":"x","name":"y","code":1}}',
    );
    const error = fromEnvelope(envelope) as InstrumentError;
    expect(Object.getPrototypeOf(error)).toBe(InstrumentError.prototype);
    expect(error).toMatchObject({ name: "InstrumentError", message: "m", code: 1 });
    expect((error as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // The envelope names the registered class (`type`) apart from the error's `name`.
  it("rebuilds a registered class that does not set its own name", () => {
    class CalibrationError extends Error {}
    registerError(CalibrationError);
    expect(travel(new CalibrationError("drift"))).toBeInstanceOf(CalibrationError);
  });

  it("rebuilds a class registered under a name of its own", () => {
    class StageError extends Error {
      override name = "StageError";
    }
    registerError(StageError, "lab.StageError");
    expect(travel(new StageError("stuck"))).toBeInstanceOf(StageError);
  });
});
