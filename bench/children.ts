import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** A child process started from dist/bench, with the JSON line it printed first. */
export interface Child<T> {
  readonly process: ChildProcess;
  readonly info: T;
  stop(): Promise<void>;
}

/**
 * Starts `dist/bench/<script>.js` with args (and node's own flags, `nodeFlags`, such as
 * --expose-gc); resolves with its first stdout line parsed as JSON.
 */
export async function startChild<T>(script: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<Child<T>> {
  const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, path, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const info = await new Promise<T>((resolve, reject) => {
    let text = "";
    // A child that never says where it listens is not left running behind a failed bench.
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${script} did not start within 10 s`)), 10_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(text.slice(0, newline)) as T);
        } catch (error) {
          fail(error as Error);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}`));
    });
  });
  return {
    process: child,
    info,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, "exit");
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a child to completion and returns the JSON of its last stdout line. */
export async function runChild<T>(script: string, args: readonly string[]): Promise<T> {
  const path = fileURLToPath(new URL(`./${script}.js`, import.meta.url));
  const child = spawn(process.execPath, [path, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(text.trim().split("\n").at(-1)!) as T;
}
