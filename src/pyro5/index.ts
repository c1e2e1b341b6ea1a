/**
 * pyro-ts speaking Pyro5: proxies to Python Pyro5 (and PyroLab) objects and nameservers.
 * Exported from pyro-ts as the `pyro5` namespace (`pyro5.lookup<Stage>("lab.stage", { ns })`).
 */
export { connect, connectDaemon } from "./client/connect.js";
export type { Pyro5ConnectOptions, Pyro5DaemonObject } from "./client/connect.js";
export { locateNs, lookup, PYRO5_NAMESERVER_ID } from "./client/locate.js";
export type { Pyro5LocateOptions } from "./client/locate.js";
export { Pyro5NameServer } from "./client/pyro5-nameserver.js";
export type { Pyro5NameEntry, Pyro5ListOptions, Pyro5RemoveQuery } from "./client/pyro5-nameserver.js";
export { Pyro5ItemStream } from "./client/item-stream.js";
export type { Pyro5Remote, Pyro5Method, Pyro5Member, Pyro5StreamCall, Pyro5BatchCall, Pyro5ProxyControls } from "./client/pyro5-remote.js";
export type { Pyro5Metadata } from "./client/pyro5-metadata.js";
export { PythonError } from "./wire/python-error.js";
export type { Pyro5ServerOptions } from "./server/pyro5-server.js";
