/** The etcd layer: a namespace shared by several nameservers through etcd. Below naming; this module only re-exports. */
export { EtcdUnavailableError } from "../errors.js";
export { parseEtcdSpec, normalizePrefix, DEFAULT_ETCD_PREFIX } from "./etcd-spec.js";
export type { EtcdSpec } from "./etcd-spec.js";
export { EtcdLayout } from "./etcd-layout.js";
export type { EtcdRecord } from "./etcd-layout.js";
export { EtcdView } from "./etcd-view.js";
export type { EtcdKv, EtcdEvent, ViewEntry, ViewChange } from "./etcd-view.js";
export { OwnNames } from "./own-names.js";
export { EtcdNamespace } from "./etcd-namespace.js";
export type { EtcdNamespaceOptions, NamespaceChange, NewRecord } from "./etcd-namespace.js";
