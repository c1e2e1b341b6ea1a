/** Global discovery: clusters bridged through etcd by their leaders. Above federation and etcd, below naming; this module only re-exports. */
export { GlobalBridge } from "./global-bridge.js";
export type { GlobalBridgeOptions, BridgeStats } from "./global-bridge.js";
export type { BridgedFederation } from "./bridged-federation.js";
export { parseGlobalSpec, checkGlobalCluster, DEFAULT_GLOBAL_TTL } from "./global-spec.js";
export type { GlobalSpec } from "./global-spec.js";
export { GlobalLayout } from "./global-layout.js";
