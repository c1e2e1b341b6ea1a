import { BEHAVIOR } from "./metadata-keys.js";

/**
 * How a registered class (not an instance) is instantiated:
 * - `single`: one instance for every client, created on first use;
 * - `session`: one instance per client connection (Pyro's default);
 * - `percall`: a new instance for every call.
 */
export type InstanceMode = "single" | "session" | "percall";

export interface Behavior {
  readonly instanceMode: InstanceMode;
}

const INSTANCE_MODES: readonly InstanceMode[] = ["single", "session", "percall"];

export const DEFAULT_BEHAVIOR: Behavior = { instanceMode: "session" };

export function behavior(options: Behavior): <C extends abstract new (...args: never[]) => unknown>(target: C) => C {
  if (!INSTANCE_MODES.includes(options.instanceMode)) {
    throw new TypeError(`instanceMode must be one of ${INSTANCE_MODES.join(", ")}; got ${JSON.stringify(options.instanceMode)}`);
  }
  return (target) => {
    Reflect.defineMetadata(BEHAVIOR, { instanceMode: options.instanceMode }, target);
    return target;
  };
}

/** The behavior set on a class (or inherited), else the default. */
export function behaviorOf(ctor: Function): Behavior {
  const found: Behavior | undefined = Reflect.getMetadata(BEHAVIOR, ctor);
  return found ?? DEFAULT_BEHAVIOR;
}
