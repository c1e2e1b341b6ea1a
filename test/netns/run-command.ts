import { spawn, spawnSync, type ChildProcess } from "node:child_process";

/** How a one-off command ended, with everything it printed. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when it was killed for running past its timeout. */
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Output kept per stream: enough for any message, bounded whatever a child prints. */
const MAX_OUTPUT = 1_000_000;

/** Commands still running, so an interrupted test can stop an `ip netns add` that would outlive its cleanup. */
const running = new Set<ChildProcess>();

/** SIGKILLs every command runCommand started that still runs. */
export function killRunningCommands(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** Runs a command to its end, SIGKILLed after `timeoutMs` (default 10 s): no wait is unbounded. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.env && { env: options.env }),
      ...(options.cwd && { cwd: options.cwd }),
    });
    running.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 10_000);
    // A command that cannot start (ENOENT) reports it here, then 'close' follows.
    child.once("error", (error) => {
      stderr += `${error.message}\n`;
    });
    child.once("close", (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Like runCommand, but blocking: for probes at module load and cleanup in process 'exit' handlers. */
export function runCommandSync(command: string, args: readonly string[], timeoutMs = 5000): CommandResult {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"] });
  return {
    code: result.status,
    signal: result.signal,
    stdout: result.stdout ?? "",
    stderr: (result.stderr ?? "") + (result.error ? `${result.error.message}\n` : ""),
    timedOut: result.error !== undefined && "code" in result.error && result.error.code === "ETIMEDOUT",
  };
}

/** One line saying how a command failed, for error messages. */
export function describeFailure(command: readonly string[], result: CommandResult): string {
  const how = result.timedOut ? "timed out" : result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
  const output = (result.stderr.trim() || result.stdout.trim()).slice(-2000);
  return `\`${command.join(" ")}\` failed (${how})${output ? `: ${output}` : ""}`;
}
