/** Who is calling: available inside an exposed method through `callContext()`. */
export interface CallContext {
  /** Identifies the client connection (stable for the connection's life). */
  readonly peerId: string;
  /** The object id the call was addressed to. */
  readonly objectId: string;
}

let current: CallContext | undefined;

/**
 * The context of the remote call being served, or undefined outside one. Like Pyro's
 * current_context it is set while the method runs synchronously: read it before the
 * method's first `await`. (AsyncLocalStorage would follow awaits, but on Node 20 it slows
 * every promise in the process.)
 */
export function callContext(): CallContext | undefined {
  return current;
}

export function runInCallContext<T>(context: CallContext, fn: () => T): T {
  const previous = current;
  current = context;
  try {
    return fn();
  } finally {
    current = previous;
  }
}
