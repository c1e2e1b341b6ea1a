export { expose, isExposedClass } from "./expose.js";
export { oneway } from "./oneway.js";
export { lockable, isLockable } from "./lockable.js";
export { behavior, behaviorOf, DEFAULT_BEHAVIOR } from "./behavior.js";
export type { Behavior, InstanceMode } from "./behavior.js";
