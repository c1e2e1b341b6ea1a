import { spawn, type ChildProcess } from "node:child_process";

export interface HostExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A long-running process on a lab host: stdout collected as lines, stderr kept for
 * failure messages, every wait bounded. Like test/node-child.ts's NodeChild, which only
 * runs `node <script>`; this one runs any command (here `ip netns exec <ns> node ...`).
 * `ip netns exec` execs its command in place, so signals sent here reach that command.
 */
export class HostProcess {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  exit: HostExit | undefined;
  /** Settles once the process has exited and its output was read to the end. */
  readonly closed: Promise<HostExit>;
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ) {
    this.process = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.env && { env: options.env }),
      ...(options.cwd && { cwd: options.cwd }),
    });
    let partial = "";
    this.process.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        if (this.lines.length < 10_000) this.lines.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
      this.#notify();
    });
    this.process.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      if (this.stderr.length < 20_000) this.stderr += chunk;
    });
    this.process.once("error", (error) => {
      this.stderr += `${error.message}\n`;
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

  /** Resolves with the first stdout line (printed so far or later) that matches; fails on exit or timeout. */
  waitForLine(matches: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      const check = (): void => {
        const line = this.lines.find((l) => matches.test(l));
        if (line !== undefined) {
          settle();
          resolve(line);
        } else if (this.exit) {
          settle();
          reject(new Error(`no line matching ${matches}: ${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        settle();
        reject(new Error(`no line matching ${matches} within ${timeoutMs} ms: ${this.describe()}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** How the process ended, or undefined if it still runs after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<HostExit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([this.closed, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return result;
  }

  /** Like exited(), but failing with the process's output if it does not end in time. */
  async expectExit(timeoutMs: number): Promise<HostExit> {
    const exit = await this.exited(timeoutMs);
    if (!exit) throw new Error(`did not exit within ${timeoutMs} ms: ${this.describe()}`);
    return exit;
  }

  /** Its name, state and last output, for failure messages. */
  describe(): string {
    const status = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : "still running";
    return `${this.name} ${status}; stdout ${JSON.stringify(this.lines.slice(-20))}; stderr ${JSON.stringify(this.stderr.slice(-2000))}`;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
