import { ONEWAY_MEMBERS, addMemberName } from "./metadata-keys.js";

/**
 * Marks a method as oneway: the client's call resolves once the request is sent,
 * no reply is awaited, and the daemon sends none (an exception is only logged there).
 * The method must also be exposed (by `@expose` on the class or the method).
 */
export function oneway(target: object, member: string | symbol, _descriptor?: PropertyDescriptor): void {
  if (typeof member === "string") addMemberName(ONEWAY_MEMBERS, target, member);
}
