import { rmSync } from "node:fs";
import { killRunningCommands, runCommandSync } from "./run-command.js";

/**
 * The safety net under LabNetwork.destroy(): namespaces that still exist when the test
 * process exits or is interrupted are removed, with their processes, synchronously.
 * (A SIGKILLed test process leaves them behind; their random tags keep them out of the
 * way of later runs.)
 */
const pending = new Set<string>();
/** Working folders of labs, removed with them. */
const folders = new Set<string>();
let installed = false;

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** Kills every process inside the namespace, then deletes it (its veths go with it). Never throws. */
export function removeNamespaceSync(namespace: string): void {
  const pids = runCommandSync("ip", ["netns", "pids", namespace]);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  runCommandSync("ip", ["netns", "del", namespace]);
}

function removeAll(): void {
  // An `ip netns add` in flight would otherwise create its namespace after we looked.
  killRunningCommands();
  for (const namespace of [...pending]) removeNamespaceSync(namespace);
  pending.clear();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  folders.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  uninstall();
  // Only stand in for the default action: if someone else listens, they decide what happens.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", removeAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", removeAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Removes `namespace` at exit unless forget() was called first. Call it just before creating the namespace. */
export function removeAtExit(namespace: string): void {
  pending.add(namespace);
  install();
}

/** Removes the folder at exit unless forgetFolder() was called first. */
export function removeFolderAtExit(folder: string): void {
  folders.add(folder);
  install();
}

/** The namespace was removed normally; once nothing is left to remove, the handlers go too. */
export function forget(namespace: string): void {
  pending.delete(namespace);
  if (pending.size === 0 && folders.size === 0) uninstall();
}

/** The folder was removed normally. */
export function forgetFolder(folder: string): void {
  folders.delete(folder);
  if (pending.size === 0 && folders.size === 0) uninstall();
}
