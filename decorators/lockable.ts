import { LOCKABLE } from "./metadata-keys.js";

/**
 * Marks a class whose instances one client at a time may lock (PyroLab's lab instruments):
 * `await proxy.$lock()`; calls from other clients are then refused with LockedError until
 * `$unlock()`, or until the holder's connection dies.
 */
export function lockable<C extends abstract new (...args: never[]) => unknown>(target: C): C {
  Reflect.defineMetadata(LOCKABLE, true, target);
  return target;
}

/** Whether instances of the class (or of a base class) can be locked. */
export function isLockable(ctor: Function): boolean {
  return Reflect.getMetadata(LOCKABLE, ctor) === true;
}
