import type * as Etcd3Module from "etcd3";
import type { Etcd3, IRequestStream, KVClient } from "etcd3";
import { EtcdUnavailableError, NamingError } from "../errors.js";

/** Options of one etcd call (a gRPC deadline), as the client takes them. */
export type CallOptions = NonNullable<Parameters<KVClient["range"]>[1]>;

/**
 * etcd3 (with @grpc and protobufjs: about 170 ms and 6 MB of heap to load) and cockatiel are
 * imported only once etcd is used: a daemon or CLI without etcd storage starts faster and its
 * heap stays small (large transfers are cheaper to garbage-collect in a small heap).
 */
let etcd3: typeof Etcd3Module | undefined;

/** A client for the given `host:port` endpoints; it spreads calls over them and skips failing ones. */
export async function openEtcdClient(endpoints: readonly string[]): Promise<Etcd3> {
  etcd3 ??= await import("etcd3");
  const { noop } = await import("cockatiel");
  return new etcd3.Etcd3({
    hosts: endpoints.map((endpoint) => `http://${endpoint}`),
    // gRPC pings find a dead connection that TCP alone would not report (a partition).
    // Valid registrations are small, but a listing page holding values someone else made huge
    // (skipped once read) must still arrive: room above gRPC's 4 MiB default.
    grpcOptions: { "grpc.keepalive_time_ms": 10_000, "grpc.keepalive_timeout_ms": 5_000, "grpc.max_receive_message_length": 64 * 1024 * 1024 },
    // bounded() retries within each request's deadline. The client's own defaults (3 quick
    // retries, and a circuit breaker per member that shuts it out for 5 s after 3 failures)
    // would shut out every member for 5 s after an election, which answers "no leader" meanwhile.
    faultHandling: { host: () => noop, global: noop },
  });
}

/** Whether etcd refused a lease (expired or revoked): only a client made by openEtcdClient can throw it. */
export function isLeaseInvalid(error: unknown): boolean {
  return etcd3 !== undefined && error instanceof etcd3.EtcdLeaseInvalidError;
}

/** Errors that no retry can fix: a bad request, or a refusal. */
function isPermanent(error: unknown): boolean {
  if (etcd3 === undefined) return false;
  const { GRPCInvalidArgumentError, EtcdPermissionDeniedError, GRPCUnauthenticatedError, GRPCNotImplementedError, ClientClosedError } = etcd3;
  return [GRPCInvalidArgumentError, EtcdPermissionDeniedError, GRPCUnauthenticatedError, GRPCNotImplementedError, ClientClosedError].some((kind) => error instanceof kind);
}

export function describeError(error: unknown): string {
  if (error === undefined) return "no answer";
  return error instanceof Error ? error.message : String(error);
}

/**
 * How long one attempt of a request may take before it is tried again: a request that a
 * member forwarded to a leader that just died is lost without an answer, and only a new
 * attempt reaches the next leader, so short attempts cross an election (1-2 s) quickly.
 */
export const ATTEMPT_MS = 600;

/** Waits; a caller awaiting it keeps the process alive, as any caller awaiting a write must. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits in a background loop (lease renewal, resync), which alone must not keep the process alive. */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());

/**
 * Runs one etcd request, trying again while it fails for want of etcd (member down, no
 * leader, connection refused) until `deadline` (ms since epoch); then rejects with
 * EtcdUnavailableError. Each attempt gets `attemptMs` (see ATTEMPT_MS), so an attempt
 * whose answer was lost may still commit: every request given here must be safe to repeat.
 * A refused lease
 * (EtcdLeaseInvalidError) goes to the caller, which knows what to do about it. `stop`
 * (closing the store) ends the retries at once.
 */
export async function bounded<T>(
  what: string,
  deadline: number,
  attempt: (options: CallOptions) => Promise<T>,
  { stop, attemptMs = ATTEMPT_MS }: { stop?: AbortSignal; attemptMs?: number } = {},
): Promise<T> {
  let last: unknown;
  for (;;) {
    const left = Math.min(deadline - Date.now(), attemptMs);
    if (left <= 0) break;
    if (stop?.aborted) throw new EtcdUnavailableError(`the etcd store closed before ${what}`);
    try {
      return await raceDeadline(attempt({ deadline: new Date(Date.now() + left) }), left);
    } catch (error) {
      if (isLeaseInvalid(error)) throw error;
      if (isPermanent(error)) throw new NamingError(`etcd refused ${what}: ${describeError(error)}`, { cause: error });
      last = error;
    }
    await sleep(Math.min(100, deadline - Date.now()));
  }
  throw new EtcdUnavailableError(`etcd did not answer ${what} in time (${describeError(last)})`, { cause: last });
}

/** `promise`, or a rejection after `ms` if it has not settled by then. */
function raceDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(() => {}); // settled after the deadline: nobody waits for it any more
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Cancels a stream no longer used; its listeners must ignore what it still says (they check it is current). */
export function quiet(stream: IRequestStream<never>): void {
  try {
    stream.cancel();
  } catch {
    // already ended
  }
}
