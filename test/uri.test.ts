import { describe, expect, it } from "vitest";
import { endpointOf, formatUri, NamingError, parseUri, validateObjectId, type PyroUri } from "../src/index.js";

/** Runs `fn`, expects a NamingError and returns its message. */
function namingErrorOf(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(NamingError);
  return (thrown as NamingError).message;
}

describe("parseUri and formatUri", () => {
  const cases: [string, PyroUri][] = [
    ["PYRO:laser@127.0.0.1:9090", { protocol: "PYRO", object: "laser", location: { transport: "tcp", host: "127.0.0.1", port: 9090 } }],
    ["PYRO:obj_1a2b@lab-pc.example.org:1", { protocol: "PYRO", object: "obj_1a2b", location: { transport: "tcp", host: "lab-pc.example.org", port: 1 } }],
    ["PYRO:laser@[::1]:65535", { protocol: "PYRO", object: "laser", location: { transport: "tcp", host: "::1", port: 65535 } }],
    ["PYRO:laser@[fe80::1:2]:9090", { protocol: "PYRO", object: "laser", location: { transport: "tcp", host: "fe80::1:2", port: 9090 } }],
    ["PYRO:id@./u:/tmp/x.sock", { protocol: "PYRO", object: "id", location: { transport: "ipc", path: "/tmp/x.sock" } }],
    ["PYRONAME:lab.laser", { protocol: "PYRONAME", object: "lab.laser" }],
    ["PYRONAME:lab.laser@ns.example.org:9090", { protocol: "PYRONAME", object: "lab.laser", location: { transport: "tcp", host: "ns.example.org", port: 9090 } }],
    ["PYRONAME:lab.laser@[::1]:9090", { protocol: "PYRONAME", object: "lab.laser", location: { transport: "tcp", host: "::1", port: 9090 } }],
    ["PYROMETA:laser", { protocol: "PYROMETA", object: "laser" }],
    ["PYROMETA:laser,1550nm,lab-2", { protocol: "PYROMETA", object: "laser,1550nm,lab-2" }],
    ["PYROMETA:laser,lab-2@10.0.0.5:9090", { protocol: "PYROMETA", object: "laser,lab-2", location: { transport: "tcp", host: "10.0.0.5", port: 9090 } }],
  ];

  it.each(cases)("round trips %s", (text, parsed) => {
    expect(parseUri(text)).toEqual(parsed);
    expect(formatUri(parsed)).toBe(text);
    expect(formatUri(parseUri(text))).toBe(text);
  });

  it("accepts the protocol in any case and formats it upper case", () => {
    expect(parseUri("pyroname:lab.laser")).toEqual({ protocol: "PYRONAME", object: "lab.laser" });
    expect(formatUri(parseUri("Pyro:x@h:1"))).toBe("PYRO:x@h:1");
  });

  it("keeps everything after the IPC marker as the path", () => {
    expect(parseUri("PYRO:x@./u:relative/dir/d.sock").location).toEqual({ transport: "ipc", path: "relative/dir/d.sock" });
  });
});

describe("parseUri errors", () => {
  const malformed: [string, string, RegExp][] = [
    ["missing protocol", "lab.laser", /missing protocol \(expected PYRO:, PYRONAME: or PYROMETA:\)/],
    ["unknown protocol", "HTTP:laser@127.0.0.1:9090", /unknown protocol "HTTP"/],
    ["empty protocol", ":laser@h:1", /unknown protocol ""/],
    ["empty id", "PYRO:@127.0.0.1:9090", /object id is empty/],
    ["empty name", "PYRONAME:", /object id is empty/],
    ["no tags", "PYROMETA:@h:1", /no tags/],
    ["PYRO without location", "PYRO:laser", /location is missing \(expected PYRO:id@host:port or PYRO:id@\.\/u:path\)/],
    ["port missing", "PYRO:laser@localhost", /port is missing \(expected host:port\)/],
    ["empty location", "PYRO:laser@", /port is missing/],
    ["empty port", "PYRO:laser@localhost:", /port "" is not a number/],
    ["port not a number", "PYRO:laser@localhost:http", /port "http" is not a number/],
    ["negative port", "PYRO:laser@localhost:-1", /port "-1" is not a number/],
    ["port with trailing text", "PYRO:laser@localhost:90/x", /port "90\/x" is not a number/],
    ["port 0", "PYRO:laser@localhost:0", /port 0 is outside 1-65535/],
    ["port 70000", "PYRO:laser@localhost:70000", /port 70000 is outside 1-65535/],
    ["port of six digits", "PYRO:laser@localhost:123456", /port "123456" is not a number/],
    ["IPv6 without brackets", "PYRO:laser@::1:9090", /IPv6 hosts must be written in brackets, as \[::1\]:port/],
    ["missing ]", "PYRO:laser@[::1:9090", /IPv6 host is missing its closing '\]'/],
    ["brackets around a non-IPv6 host", "PYRO:laser@[localhost]:9090", /"localhost" in brackets is not an IPv6 address/],
    ["empty brackets", "PYRO:laser@[]:9090", /"" in brackets is not an IPv6 address/],
    ["IPv6 without port", "PYRO:laser@[::1]", /port is missing after the IPv6 host/],
    ["IPv6 port not a number", "PYRO:laser@[::1]:x", /port "x" is not a number/],
    ["empty host", "PYRO:laser@:9090", /host is empty/],
    ["host with invalid characters", "PYRO:laser@lab pc:9090", /host "lab pc" has invalid characters/],
    ["second @", "PYRONAME:a@b@c:1", /host "b@c" has invalid characters/],
    ["whitespace in id", "PYRO:my laser@h:1", /object "my laser" contains whitespace or one of @ \/ \\ \? #/],
    ["tab in name", "PYRONAME:lab\tlaser", /contains whitespace/],
    ["slash in id", "PYRO:a/b@h:1", /object "a\/b" contains whitespace/],
    ["question mark in name", "PYRONAME:lab?x", /contains whitespace or one of/],
    ["empty IPC path", "PYRO:laser@./u:", /IPC socket path is empty/],
  ];

  it.each(malformed)("%s", (_problem, text, expected) => {
    const message = namingErrorOf(() => parseUri(text));
    expect(message).toMatch(expected);
    // Every message quotes the URI it refused.
    expect(message).toContain(`invalid URI ${JSON.stringify(text)}`);
  });

  it("refuses a value that is not a string", () => {
    expect(namingErrorOf(() => parseUri(42 as unknown as string))).toBe("URI must be a string");
  });

  // Fixed bug, kept as a regression test: src/uri.ts parseUri takes everything before the first ":" as the protocol, so a URI
  // without one but with a port gets `unknown protocol "laser@127.0.0.1"` instead of "missing protocol".
  it("says the protocol is missing when the text starts with id@host:port", () => {
    expect(namingErrorOf(() => parseUri("laser@127.0.0.1:9090"))).toMatch(/missing protocol/);
  });

  // Fixed bug, kept as a regression test: src/uri.ts parseUri checks PYROMETA tags only as a whole (OBJECT_PATTERN), so empty tags pass.
  it("refuses empty PYROMETA tags", () => {
    expect(namingErrorOf(() => parseUri("PYROMETA:laser,,lab"))).toMatch(/empty tag/);
    expect(namingErrorOf(() => parseUri("PYROMETA:,"))).toMatch(/empty tag/);
  });
});

describe("endpointOf", () => {
  it("gives tcp://host:port, brackets for IPv6, ipc://path for IPC", () => {
    expect(endpointOf({ transport: "tcp", host: "127.0.0.1", port: 9090 })).toBe("tcp://127.0.0.1:9090");
    expect(endpointOf({ transport: "tcp", host: "lab-pc", port: 1 })).toBe("tcp://lab-pc:1");
    expect(endpointOf({ transport: "tcp", host: "::1", port: 9090 })).toBe("tcp://[::1]:9090");
    expect(endpointOf({ transport: "ipc", path: "/tmp/x.sock" })).toBe("ipc:///tmp/x.sock");
  });

  it("is what a parsed URI's location connects to", () => {
    expect(endpointOf(parseUri("PYRO:x@[::1]:4000").location!)).toBe("tcp://[::1]:4000");
    expect(endpointOf(parseUri("PYRO:x@./u:/run/d.sock").location!)).toBe("ipc:///run/d.sock");
  });
});

describe("validateObjectId", () => {
  it("accepts ids a URI can carry", () => {
    for (const id of ["laser", "lab.laser", "obj_0123abcd", "pyro-ts.NameServer", "a:b", "x".repeat(1024)]) {
      expect(() => validateObjectId(id)).not.toThrow();
    }
  });

  it("refuses an empty id", () => {
    expect(namingErrorOf(() => validateObjectId(""))).toBe("object id must be a non-empty string");
  });

  it("refuses a non-string", () => {
    expect(namingErrorOf(() => validateObjectId(7 as unknown as string))).toBe("object id must be a non-empty string");
  });

  it("refuses an id longer than 1024 characters", () => {
    expect(namingErrorOf(() => validateObjectId("x".repeat(1025)))).toBe("object id is longer than 1024 characters");
  });

  it.each([["my laser"], ["a\nb"], ["a@b"], ["a/b"], ["a\\b"], ["a?b"], ["a#b"]])("refuses %j naming the rule", (id) => {
    expect(namingErrorOf(() => validateObjectId(id))).toBe(`object id ${JSON.stringify(id)} contains whitespace or one of @ / \\ ? #`);
  });
});
