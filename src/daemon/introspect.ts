/**
 * What of an object a remote client may use: an allow-list computed once per object from
 * the decorators, so dispatch never looks a peer-chosen name up on the object unchecked.
 */
import { isExposedClass } from "../../decorators/index.js";
import { EXPOSED_MEMBERS, ONEWAY_MEMBERS, memberNames } from "../../decorators/metadata-keys.js";
import type { ObjectMetadata } from "../protocol/metadata.js";
import { isSignal } from "../signal.js";

/** The allow-list of one object, as sets for dispatch and as metadata for clients. */
export interface ExposedShape {
  readonly methods: ReadonlySet<string>;
  readonly attributes: ReadonlySet<string>;
  readonly writable: ReadonlySet<string>;
  readonly oneway: ReadonlySet<string>;
  readonly signals: ReadonlySet<string>;
  readonly metadata: ObjectMetadata;
}

/**
 * Never callable, whatever the decorators say: private by convention (`_x`), proxy controls
 * (`$x`), `constructor`, anything on Object.prototype (`__proto__`, `toString`…), and `then`
 * (a remote `then` would make every proxy look like a promise).
 */
export function isForbiddenMember(name: string): boolean {
  return (
    name.length === 0 ||
    name.startsWith("_") ||
    name.startsWith("$") ||
    name === "constructor" ||
    name === "then" ||
    Object.prototype.hasOwnProperty.call(Object.prototype, name)
  );
}

const shapes = new WeakMap<object, ExposedShape>();

/** The exposed shape of an instance, computed on first use and then cached. */
export function shapeOf(instance: object): ExposedShape {
  let shape = shapes.get(instance);
  if (!shape) {
    shape = computeShape(instance);
    shapes.set(instance, shape);
  }
  return shape;
}

function computeShape(instance: object): ExposedShape {
  const proto: object | null = Object.getPrototypeOf(instance);
  const classExposed = typeof instance.constructor === "function" && isExposedClass(instance.constructor);
  // Fields are declared once; for prototype members the most derived definition decides.
  const markedFields = proto ? memberNames(EXPOSED_MEMBERS, proto) : new Set<string>();
  const ownMark = (key: symbol, owner: object, name: string): boolean =>
    (Reflect.getOwnMetadata(key, owner) as Set<string> | undefined)?.has(name) === true;
  const onewayMarked = new Set<string>();
  const methods = new Set<string>();
  const attributes = new Set<string>();
  const writable = new Set<string>();
  const signals = new Set<string>();
  const seen = new Set<string>();

  const consider = (name: string, descriptor: PropertyDescriptor, owner: object | undefined): void => {
    if (seen.has(name)) return; // the most derived definition wins
    seen.add(name);
    if (isForbiddenMember(name)) return;
    const isOwnField = owner === undefined;
    const marked = { has: (n: string) => (owner ? ownMark(EXPOSED_MEMBERS, owner, n) : markedFields.has(n)) };
    if (owner && ownMark(ONEWAY_MEMBERS, owner, name)) onewayMarked.add(name);
    const value: unknown = descriptor.value;
    if (isOwnField && isSignal(value)) {
      if (classExposed || marked.has(name)) signals.add(name);
      return;
    }
    if (typeof value === "function") {
      if (classExposed || marked.has(name)) methods.add(name);
      return;
    }
    if (descriptor.get || descriptor.set) {
      if (!classExposed && !marked.has(name)) return;
      if (descriptor.get) attributes.add(name);
      if (descriptor.set) writable.add(name);
      return;
    }
    // A plain data field is exposed only when decorated itself.
    if (isOwnField && marked.has(name)) {
      attributes.add(name);
      if (descriptor.writable) writable.add(name);
    }
  };

  for (const name of Object.getOwnPropertyNames(instance)) {
    consider(name, Object.getOwnPropertyDescriptor(instance, name)!, undefined);
  }
  for (let p = proto; p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) consider(name, Object.getOwnPropertyDescriptor(p, name)!, p);
  }
  const oneway = new Set([...onewayMarked].filter((name) => methods.has(name)));
  return {
    methods,
    attributes,
    writable,
    oneway,
    signals,
    metadata: {
      methods: [...methods].sort(),
      attributes: [...attributes].sort(),
      writable: [...writable].sort(),
      oneway: [...oneway].sort(),
      signals: [...signals].sort(),
    },
  };
}

/** Whether anything at all is exposed; registering an object with nothing exposed is a mistake. */
export function exposesAnything(shape: ExposedShape): boolean {
  return shape.methods.size + shape.attributes.size + shape.signals.size > 0;
}
