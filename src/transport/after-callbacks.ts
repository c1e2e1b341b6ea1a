/**
 * Resolves once the promise callbacks queued so far, and those they queue in turn, have run
 * (a process.nextTick queued from a promise callback runs only when the microtask queue is
 * empty). The ZeroMQ receive loops await it before their next receive(): zeromq.js's iterator
 * calls receive(), a native call that arms a poll when nothing waits, as soon as the loop body
 * ends, ahead of what the message set going (a caller's next request, an async method's reply).
 */
export function afterPromiseCallbacks(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}
