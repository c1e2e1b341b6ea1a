import "reflect-metadata";

/** Reflect-metadata keys written by the decorators and read by the daemon. */
export const EXPOSED_CLASS = Symbol.for("pyro-ts:exposed-class");
export const EXPOSED_MEMBERS = Symbol.for("pyro-ts:exposed-members");
export const ONEWAY_MEMBERS = Symbol.for("pyro-ts:oneway-members");
export const BEHAVIOR = Symbol.for("pyro-ts:behavior");
export const LOCKABLE = Symbol.for("pyro-ts:lockable");

/** Adds `name` to the set stored under `key` on `target` (a prototype), not touching its bases' sets. */
export function addMemberName(key: symbol, target: object, name: string): void {
  const own: Set<string> | undefined = Reflect.getOwnMetadata(key, target);
  const next = new Set(own ?? []);
  next.add(name);
  Reflect.defineMetadata(key, next, target);
}

/** Every name stored under `key` on `prototype` and its bases. */
export function memberNames(key: symbol, prototype: object): Set<string> {
  const names = new Set<string>();
  for (let p: object | null = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const own: Set<string> | undefined = Reflect.getOwnMetadata(key, p);
    for (const name of own ?? []) names.add(name);
  }
  return names;
}
