import type { NameServerStartFailure } from "./host-errors.js";

/**
 * What a detached nameserver tells the process that started it, once, over the IPC channel
 * of its start: ready (with its pid and URI), or why it is about to exit.
 */
export type StartReport =
  | { readonly kind: "pyro-ts.nameserver-ready"; readonly pid: number; readonly uri: string }
  | { readonly kind: "pyro-ts.nameserver-failed"; readonly reason: NameServerStartFailure; readonly message: string };

const SEND_TIMEOUT_MS = 2000;

export function isStartReport(value: unknown): value is StartReport {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.kind === "pyro-ts.nameserver-ready") return Number.isSafeInteger(v.pid) && typeof v.uri === "string";
  return v.kind === "pyro-ts.nameserver-failed" && typeof v.reason === "string" && typeof v.message === "string";
}

/**
 * In a detached nameserver: sends the report to its starter, then closes the IPC channel,
 * which would otherwise keep this process tied to a starter that is meant to exit. Does
 * nothing without a channel (started some other way). Bounded: a starter that is gone
 * already must not hold the nameserver up.
 */
export async function reportToStarter(report: StartReport): Promise<void> {
  const send = process.send?.bind(process);
  if (!send || !process.connected) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => send(report, undefined, {}, () => resolve())),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, SEND_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (process.connected) process.disconnect();
}
