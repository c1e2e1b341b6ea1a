/**
 * The Python side of the Pyro5 bench: python3 bench/pyro5/echo_client.py as a child that stays
 * up between rounds (its proxies connected and warmed up), so its rounds alternate with
 * pyro-ts's like every other baseline. Each round it times itself and answers one JSON line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pyro5Env } from "../../test/pyro5-python.js";

/** One round of calls: their rate, and the CPU (user+sys) its process spent per call, in µs. */
export interface Round {
  readonly perSecond: number;
  readonly cpuPerCall: number;
}

/** The Python scripts stay in the source tree; this module runs compiled from dist/bench/pyro5/. */
export const PYTHON_SCRIPTS = fileURLToPath(new URL(import.meta.url.includes("/dist/bench/") ? "../../../bench/pyro5/" : "./", import.meta.url));
const READY_TIMEOUT_MS = 20_000;
/** Longest round: a round is under a few seconds even on a contended machine. */
const ROUND_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 5_000;

/** Every client still running, killed if the bench exits without stopping it. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class PythonClient {
  readonly #child: ChildProcess;
  #stdout = "";
  #stderr = "";
  #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #exited = false;
  /** "Python 3.x.y", from its READY line. */
  #python = "";

  private constructor(child: ChildProcess) {
    this.#child = child;
    running.add(child);
    child.stdout!.on("data", (chunk: Buffer) => {
      this.#stdout += chunk.toString();
      const parts = this.#stdout.split("\n");
      this.#stdout = parts.pop()!;
      this.#lines.push(...parts);
      this.#waiter?.();
    });
    // The last output only, for the error message of a client that failed.
    child.stderr!.on("data", (chunk: Buffer) => void (this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)));
    child.stdin!.on("error", () => undefined); // a client that failed has closed its stdin
    const gone = (): void => {
      this.#exited = true;
      running.delete(child);
      this.#waiter?.();
    };
    child.once("exit", gone);
    child.once("error", gone);
  }

  /** A client with `threads` threads, each with a proxy of its own to `uri`, connected and warmed up. */
  static async start(uri: string, serializer: "json" | "serpent", threads: number, payload: string): Promise<PythonClient> {
    const child = spawn("python3", [`${PYTHON_SCRIPTS}echo_client.py`, uri, serializer, String(threads), payload], { env: pyro5Env(), stdio: ["pipe", "pipe", "pipe"] });
    const client = new PythonClient(child);
    try {
      const ready = await client.#line(READY_TIMEOUT_MS, "READY");
      if (!ready.startsWith("READY ")) throw new Error(`echo_client.py said ${JSON.stringify(ready)} instead of READY`);
      client.#python = ready.slice("READY ".length);
      return client;
    } catch (error) {
      await client.stop();
      throw error;
    }
  }

  /** "Python 3.x.y". */
  get python(): string {
    return this.#python;
  }

  /** `calls` calls shared by its threads, as the client measured them itself. */
  async round(calls: number): Promise<Round> {
    this.#child.stdin!.write(`${calls}\n`);
    const line = await this.#line(ROUND_TIMEOUT_MS, `a round of ${calls} calls`);
    const { perSecond, cpuSeconds } = JSON.parse(line) as { perSecond: number; cpuSeconds: number };
    if (!(perSecond > 0) || !(cpuSeconds >= 0)) throw new Error(`echo_client.py measured nothing: ${line}`);
    return { perSecond, cpuPerCall: (cpuSeconds * 1e6) / calls };
  }

  /** Ends its stdin (it stops its threads and exits), then kills it if it is still there. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.stdin!.end();
    const kill = setTimeout(() => this.#child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(kill);
  }

  /** The next stdout line; rejects (the client is then stopped by its owner) when it exits or says nothing in time. */
  async #line(timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#exited) throw new Error(`echo_client.py exited before ${what}: ${this.#stderr.trim() || "no output"}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`echo_client.py gave no ${what} within ${timeoutMs} ms: ${this.#stderr.trim()}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    return this.#lines.shift()!;
  }
}
