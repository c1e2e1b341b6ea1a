/**
 * How many tasks of one kind are running, and a wait until none is. A count rather than a Set
 * of them: a Set whose entries come and go costs the garbage collector dearly (see
 * src/proxy/pending-table.ts).
 */
export class RunningCount {
  #running = 0;
  /** Who waits for none to run (a wait that timed out stays until then, harmlessly). */
  #waiting: (() => void)[] = [];

  begin(): void {
    this.#running++;
  }

  end(): void {
    if (--this.#running > 0 || this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves when none runs any more, or after `timeoutMs`. */
  async none(timeoutMs: number): Promise<void> {
    if (this.#running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.#waiting.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
}
