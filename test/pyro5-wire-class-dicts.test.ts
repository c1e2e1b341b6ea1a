/**
 * The pure Pyro5 wire codec (src/pyro5/wire), no I/O; the same codec against the real
 * Python Pyro5 is test/pyro5-wire-python.test.ts.
 * Here: Pyro5's class dicts (exceptions, URIs, proxies) and PythonError.
 */
import { describe, expect, it } from "vitest";
import { ConnectionClosedError, DaemonError, LimitExceededError, LockedError, MessageTooLargeError, NamingError, ProtocolError, PyroError, RemoteError, SecurityError, SerializeError, TimeoutError, UnknownMemberError } from "../src/errors.js";
import { errorToExceptionDict, errorToExceptionWrapperDict, exceptionFromDict, exceptionFromWrapperDict, isClassDict, isRebuildableByPython, proxyFromDict, proxyToDict, uriFromDict, uriToDict } from "../src/pyro5/wire/class-dicts.js";
import { PythonError } from "../src/pyro5/wire/python-error.js";

describe("Pyro5 class dicts", () => {
  const pythonValueError = {
    __class__: "builtins.ValueError", __exception__: true, args: ["not homed"],
    attributes: { _pyroTraceback: ["Traceback (most recent call last):\n", '  File "x.py", line 1\n', "ValueError: not homed\n"], code: 7 },
  };

  it("reads exception dicts, and nothing else as one", () => {
    expect(isClassDict(pythonValueError)).toBe(true);
    expect(isClassDict({ __class__: 1 })).toBe(false);
    expect(exceptionFromDict(pythonValueError)).toEqual({
      pythonType: "builtins.ValueError", args: ["not homed"], attributes: { code: 7 },
      traceback: 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: not homed\n',
    });
    expect(exceptionFromDict({ __class__: "Pyro5.errors.NamingError", args: ["unknown name: x"] })).toEqual({ pythonType: "Pyro5.errors.NamingError", args: ["unknown name: x"], attributes: {} });
    expect(exceptionFromDict({ __class__: "builtins.StopIteration", __exception__: true, args: [], attributes: { _pyroTraceback: null } })).toEqual({ pythonType: "builtins.StopIteration", args: [], attributes: {} });
    for (const value of [null, 5, "x", [], { a: 1 }, { __class__: "Pyro5.core.URI", state: [] }, { __class__: "x.Y", __exception__: "yes" }]) {
      expect(exceptionFromDict(value)).toBeUndefined();
    }
    const wrapped = { __class__: "Pyro5.core._ExceptionWrapper", exception: pythonValueError };
    expect(exceptionFromWrapperDict(wrapped)?.pythonType).toBe("builtins.ValueError");
    expect(exceptionFromWrapperDict(pythonValueError)).toBeUndefined();
  });

  it("maps TypeScript errors onto classes a Python peer rebuilds", () => {
    const cases: [unknown, string, string][] = [
      [new TypeError("t"), "builtins.TypeError", "t"],
      [new RangeError("r"), "builtins.ValueError", "r"],
      [new UnknownMemberError("no member x"), "builtins.AttributeError", "no member x"],
      [new NamingError("n"), "Pyro5.errors.NamingError", "n"],
      [new DaemonError("d"), "Pyro5.errors.DaemonError", "d"],
      [new SecurityError("s"), "Pyro5.errors.SecurityError", "s"],
      [new ProtocolError("p"), "Pyro5.errors.ProtocolError", "p"],
      [new SerializeError("z"), "Pyro5.errors.SerializeError", "z"],
      [new TimeoutError("o"), "Pyro5.errors.TimeoutError", "o"],
      [new ConnectionClosedError("c"), "Pyro5.errors.ConnectionClosedError", "c"],
      [new MessageTooLargeError("m"), "Pyro5.errors.MessageTooLargeError", "m"],
      [new PyroError("y"), "Pyro5.errors.PyroError", "y"],
      [new LockedError("held by x"), "Pyro5.errors.SecurityError", "LockedError: held by x"],
      [new LimitExceededError("too many"), "Pyro5.errors.DaemonError", "LimitExceededError: too many"],
      [new Error("plain"), "builtins.RuntimeError", "Error: plain"],
      [new RemoteError("RangeError", "far away"), "builtins.RuntimeError", "RangeError: far away"],
      ["a string", "builtins.RuntimeError", "thrown value: a string"],
    ];
    for (const [error, pythonType, message] of cases) {
      const dict = errorToExceptionDict(error);
      expect(dict).toMatchObject({ __class__: pythonType, __exception__: true, args: [message] });
      const traceback = (dict.attributes as { _pyroTraceback: string[] })._pyroTraceback;
      expect(traceback.length).toBeGreaterThan(0);
      expect(traceback.every((line) => line.endsWith("\n"))).toBe(true);
      expect(isRebuildableByPython(pythonType)).toBe(true);
    }
    expect(errorToExceptionWrapperDict(new TypeError("t"))).toMatchObject({ __class__: "Pyro5.core._ExceptionWrapper", exception: { __class__: "builtins.TypeError" } });
  });

  it("sends a Python exception back as itself when Python can rebuild it", () => {
    const info = exceptionFromDict(pythonValueError)!;
    expect(errorToExceptionDict(PythonError.fromInfo(info))).toEqual({ ...pythonValueError, attributes: { code: 7, _pyroTraceback: pythonValueError.attributes._pyroTraceback } });
    const custom = PythonError.fromInfo({ pythonType: "__main__.StageError", args: ["jammed"], attributes: {} });
    expect(errorToExceptionDict(custom)).toMatchObject({ __class__: "builtins.RuntimeError", args: ["__main__.StageError: jammed"], attributes: { _pyroTraceback: null } });
    expect(isRebuildableByPython("Pyro5.errors.Nope")).toBe(false);
    expect(isRebuildableByPython("builtins.__import__")).toBe(false);
  });

  it("reads and writes URI dicts as Pyro5's URI class does", () => {
    const cases: [string, unknown[], string?][] = [
      ["PYRO:obj@127.0.0.1:9999", ["PYRO", "obj", null, "127.0.0.1", 9999]],
      ["PYRO:obj@[::1]:9999", ["PYRO", "obj", null, "::1", 9999]],
      ["PYRO:obj@./u:/tmp/sock", ["PYRO", "obj", "/tmp/sock", null, null]],
      ["PYRONAME:lab.stage", ["PYRONAME", "lab.stage", null, null, null]],
      ["pyroname:lab.stage@ns.local", ["PYRONAME", "lab.stage", null, "ns.local", 9090], "PYRONAME:lab.stage@ns.local:9090"],
      ["PYROMETA:a,b,a@h:1", ["PYROMETA", ["a", "b"], null, "h", 1], "PYROMETA:a,b@h:1"],
    ];
    for (const [uri, state, text] of cases) {
      const dict = uriToDict(uri);
      expect(dict).toEqual({ __class__: "Pyro5.core.URI", state });
      expect(uriFromDict(dict)).toBe(text ?? uri);
    }
    for (const bad of ["PYRO:obj", "PYRO:obj@host", "PYRO:obj@host:port", "HTTP:x@h:1", "PYRO:obj@./u:", "PYRO:obj@[x]:1", "nonsense"]) {
      expect(() => uriToDict(bad)).toThrow(NamingError);
    }
    for (const bad of [null, {}, { __class__: "Pyro5.core.URI" }, { __class__: "Pyro5.core.URI", state: ["PYRO", 1, null, "h", 1] }, { __class__: "Pyro5.core.URI", state: ["PYRO", "x", null, "h", null] }]) {
      expect(uriFromDict(bad)).toBeUndefined();
    }
  });

  it("reads and writes proxy dicts", () => {
    const proxy = { uri: "PYRO:child@127.0.0.1:1", oneway: ["note"], methods: ["note", "add"], attrs: ["power"] };
    const dict = proxyToDict(proxy);
    expect(dict).toEqual({ __class__: "Pyro5.client.Proxy", state: ["PYRO:child@127.0.0.1:1", ["note"], ["note", "add"], ["power"], "hello", null] });
    expect(proxyFromDict(dict)).toEqual(proxy);
    expect(proxyFromDict({ __class__: "Pyro5.client.Proxy", state: ["PYRO:x@h:1", [], [1], []] })).toBeUndefined();
    expect(proxyFromDict(uriToDict("PYRO:x@h:1"))).toBeUndefined();
  });
});

describe("PythonError", () => {
  it("is a RemoteError with Python's short name, str() as message and the traceback", () => {
    const error = PythonError.fromInfo({ pythonType: "builtins.ValueError", args: ["not homed"], traceback: "Traceback...\nValueError: not homed\n", attributes: { code: 7 } });
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ValueError");
    expect(error.message).toBe("not homed");
    expect(error.remoteStack).toContain("ValueError: not homed");
    expect(error.attributes).toEqual({ code: 7 });
    expect(error.info).toEqual({ pythonType: "builtins.ValueError", args: ["not homed"], traceback: "Traceback...\nValueError: not homed\n", attributes: { code: 7 } });
    const message = (pythonType: string, args: unknown[]): string => PythonError.fromInfo({ pythonType, args, attributes: {} }).message;
    expect(message("builtins.StopIteration", [])).toBe("");
    expect(message("builtins.KeyError", ["k"])).toBe("'k'");
    expect(message("builtins.OSError", [2, "No such file"])).toBe("(2, 'No such file')");
    expect(message("builtins.ValueError", [NaN])).toBe("nan");
    expect(PythonError.fromInfo({ pythonType: "Pyro5.errors.NamingError", args: ["x"], attributes: {} }).name).toBe("NamingError");
  });
});
