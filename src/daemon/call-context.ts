/** Who is calling: available inside an exposed method through `callContext()`. */
export interface CallContext {
  /** Identifies the client connection (stable for the connection's life). */
  readonly peerId: string;
  /** The object id the call was addressed to. */
  readonly objectId: string;
  /**
   * Aborted when the stream this call returned ends before its generator does: the client
   * broke off or closed its proxy, stopped waiting, went away, or the daemon closed. Never
   * aborted for a call that returns a plain value.
   */
  readonly signal: AbortSignal;
}

/** The context of one call; its AbortController is made only when someone asks for the signal. */
export class ServedCall implements CallContext {
  #controller: AbortController | undefined;
  #aborted: { readonly reason: unknown } | undefined;

  constructor(
    readonly peerId: string,
    readonly objectId: string,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts the signal; one asked for only later (a cleanup that reads it now) is made aborted. */
  abort(reason: unknown): void {
    if (this.#controller) this.#controller.abort(reason);
    else this.#aborted = { reason };
  }

  private get controller(): AbortController {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller;
  }
}

let current: CallContext | undefined;

/**
 * The context of the remote call being served, or undefined outside one. Like Pyro's
 * current_context it is set while the method runs synchronously: read it before the
 * method's first `await`. A stream's generator has it again at each step, up to its next
 * `await` or `yield`. (AsyncLocalStorage would follow awaits, but on Node 20 it slows
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
