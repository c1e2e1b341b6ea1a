import { EXPOSED_CLASS, EXPOSED_MEMBERS, addMemberName } from "./metadata-keys.js";

/**
 * Marks what a remote client may use.
 *
 * On a class: its public methods, getters/setters and Signal members (and those it inherits).
 * On a member: that member only, for classes that are not exposed as a whole.
 *
 * Whatever is decorated, members named `_x` or `$x`, `#private` members, `constructor` and
 * anything on Object.prototype are never callable remotely.
 */
export function expose<C extends abstract new (...args: never[]) => unknown>(target: C): C;
export function expose(target: object, member: string | symbol, descriptor?: PropertyDescriptor): void;
export function expose(target: object, member?: string | symbol): unknown {
  if (member === undefined) {
    Reflect.defineMetadata(EXPOSED_CLASS, true, target);
    return target;
  }
  if (typeof member === "string") addMemberName(EXPOSED_MEMBERS, target, member);
  return undefined;
}

/** Whether the class (or a base class) was decorated with `@expose`. */
export function isExposedClass(ctor: Function): boolean {
  return Reflect.getMetadata(EXPOSED_CLASS, ctor) === true;
}
