import { spawn, type ChildProcess } from "node:child_process";

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A node child process running a script (usually a compiled fixture): its stdout is
 * collected as lines, its stderr kept for failure messages, and every wait is bounded.
 */
export class NodeChild {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  exit: Exit | undefined;
  /** Settles once the process has exited and its output was read to the end. */
  readonly closed: Promise<Exit>;
  readonly #waiters = new Set<() => void>();

  /** With stdin a pipe (the default), fixtures can end when it closes: nothing outlives a crashed test run. */
  /** `via` runs node through another command (`ip netns exec <ns>`), which must exec it in place so signals reach it. */
  constructor(
    readonly name: string,
    script: string,
    args: readonly string[] = [],
    options: { stdin?: "pipe" | "ignore"; cwd?: string; env?: NodeJS.ProcessEnv; via?: readonly string[] } = {},
  ) {
    const [command, ...prefix] = [...(options.via ?? []), process.execPath];
    this.process = spawn(command!, [...prefix, script, ...args], {
      stdio: [options.stdin ?? "pipe", "pipe", "pipe"],
      ...(options.cwd && { cwd: options.cwd }),
      ...(options.env && { env: options.env }),
    });
    this.process.stdin?.on("error", () => {});
    let partial = "";
    this.process.stdout!.setEncoding("utf8");
    this.process.stdout!.on("data", (chunk: string) => {
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        this.lines.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
      this.#notify();
    });
    this.process.stderr!.setEncoding("utf8");
    this.process.stderr!.on("data", (chunk: string) => {
      if (this.stderr.length < 20_000) this.stderr += chunk;
    });
    this.closed = new Promise((resolve) => {
      this.process.once("close", (code, signal) => {
        this.exit = { code, signal };
        this.#notify();
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Sends a signal if the process still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.process.kill(signal);
  }

  /** Resolves with the first line (printed so far or later) that matches. */
  waitForLine(matches: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return this.#waitFor(() => this.lines.find(matches), timeoutMs, what);
  }

  /** The `index`th line of stdout (0-based). */
  line(index: number, timeoutMs: number): Promise<string> {
    return this.#waitFor(() => this.lines[index], timeoutMs, `stdout line ${index}`);
  }

  /** How the process ended, or undefined if it still runs after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.closed, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return result;
  }

  /** Like exited(), but failing with the child's output if it does not end in time. */
  async expectExit(timeoutMs: number): Promise<Exit> {
    const exit = await this.exited(timeoutMs);
    if (!exit) throw new Error(`did not exit within ${timeoutMs} ms: ${this.#describe()}`);
    return exit;
  }

  /** Sends a signal and waits until the process is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL", timeoutMs = 5000): Promise<void> {
    this.signal(signal);
    if (!(await this.exited(timeoutMs))) throw new Error(`${this.name} did not exit within ${timeoutMs} ms of ${signal}`);
  }

  #waitFor<T>(found: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        const value = found();
        if (value !== undefined) {
          settle();
          resolve(value);
        } else if (this.exit) {
          settle();
          reject(new Error(`no ${what}: ${this.#describe()}`));
        }
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`no ${what} within ${timeoutMs} ms: ${this.#describe()}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  #describe(): string {
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : "still running";
    return `${this.name} ${status}; stdout ${JSON.stringify(this.lines.slice(-20))}; stderr ${JSON.stringify(this.stderr.slice(-2000))}`;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
