import { setTimeout as sleep } from "node:timers/promises";

/** What one probe found: the awaited value, or why it is not there yet. */
export type Outcome<T> = { readonly done: T } | { readonly waiting: string };

/** Time between probes. */
export const POLL_INTERVAL_MS = 200;

/**
 * Probes every 200 ms until a probe is done, failing with the last reason after
 * `timeoutMs`. A probe started before the deadline counts even if it answers after it:
 * what is measured is the system under test, not how long a probe (a CLI process) takes
 * to start on a busy machine.
 */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<Outcome<T>>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last = "no probe ran";
  let probes = 0;
  while (performance.now() <= deadline) {
    const outcome = await probe();
    probes++;
    if ("done" in outcome) return outcome.done;
    last = outcome.waiting;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (${probes} probes); last probe: ${last}`);
}

/**
 * Probes every 200 ms for `durationMs` and fails at the first probe that finds the
 * condition broken (the probe returns what is wrong, or undefined while it holds).
 * Returns how many probes held, at least one.
 */
export async function holdFor(what: string, durationMs: number, probe: () => Promise<string | undefined>): Promise<number> {
  const end = performance.now() + durationMs;
  let probes = 0;
  do {
    const broken = await probe();
    probes++;
    if (broken !== undefined) throw new Error(`${what}: broken at probe ${probes}: ${broken}`);
    await sleep(POLL_INTERVAL_MS);
  } while (performance.now() < end);
  return probes;
}
