import { ProtocolError, UnknownMemberError } from "../errors.js";
import type { ExposedShape } from "./introspect.js";

/** One request addressed to an object, its arguments already decoded. */
export type Request =
  /** `served`: the call being served, whose AbortSignal a generator method may get (read only then). */
  | { readonly kind: "call"; readonly member: string; readonly args: unknown; readonly served?: { readonly signal: AbortSignal } }
  | { readonly kind: "get"; readonly member: string }
  | { readonly kind: "set"; readonly member: string; readonly value: unknown };

function unknownMember(objectId: string, shape: ExposedShape, member: string, as: string): never {
  const hint = shape.methods.has(member)
    ? ` (it is a method: call it)`
    : shape.attributes.has(member)
      ? ` (it is an attribute: read it with await proxy.${member})`
      : "";
  throw new UnknownMemberError(`${JSON.stringify(objectId)} has no exposed ${as} ${JSON.stringify(member)}${hint}`);
}

/**
 * Runs a request against the instance; returns the value, or the promise a method returned. Only names in the shape's allow-lists are looked up,
 * so `constructor`, `__proto__` or `_internal` can never be reached.
 */
export function dispatch(objectId: string, instance: object, shape: ExposedShape, request: Request): unknown {
  const target = instance as Record<string, unknown>;
  switch (request.kind) {
    case "call": {
      if (!shape.methods.has(request.member)) unknownMember(objectId, shape, request.member, "method");
      if (!Array.isArray(request.args)) throw new ProtocolError("call arguments must be an array");
      const method = target[request.member] as (...args: unknown[]) => unknown;
      return method.apply(instance, withStreamSignal(method, request.args, request.served));
    }
    case "get":
      if (!shape.attributes.has(request.member)) unknownMember(objectId, shape, request.member, "attribute");
      return target[request.member];
    case "set":
      if (!shape.writable.has(request.member)) unknownMember(objectId, shape, request.member, "writable attribute");
      target[request.member] = request.value;
      return undefined;
  }
}

const GENERATOR_FUNCTIONS = new Set(["GeneratorFunction", "AsyncGeneratorFunction"]);

/**
 * A generator method whose last declared parameter the client left out gets its stream's
 * AbortSignal there (`async *readings(count, signal?: AbortSignal)`; Remote<T> leaves a
 * trailing AbortSignal parameter out of the proxy's signature). A parameter with a default
 * value is not counted by Function.length, so it never receives the signal.
 */
function withStreamSignal(method: Function, args: unknown[], served: { readonly signal: AbortSignal } | undefined): unknown[] {
  if (served === undefined || args.length !== method.length - 1 || !GENERATOR_FUNCTIONS.has(method.constructor.name)) return args;
  return [...args, served.signal];
}
