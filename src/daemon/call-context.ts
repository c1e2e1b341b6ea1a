import { AsyncLocalStorage } from "node:async_hooks";

/** Who is calling: available inside an exposed method through `callContext()`. */
export interface CallContext {
  /** Identifies the client connection (stable for the connection's life). */
  readonly peerId: string;
  /** The object id the call was addressed to. */
  readonly objectId: string;
}

const storage = new AsyncLocalStorage<CallContext>();

/** The context of the remote call being served, or undefined outside one. */
export function callContext(): CallContext | undefined {
  return storage.getStore();
}

export function runInCallContext<T>(context: CallContext, fn: () => T): T {
  return storage.run(context, fn);
}
