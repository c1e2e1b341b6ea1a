import { readFileSync } from "node:fs";

/**
 * Whether a process of this host runs. A killed process whose parent has not reaped it yet
 * (a zombie: a detached nameserver's parent is init, which may take its time) counts as
 * dead, though signal 0 still reaches it.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !isZombie(pid);
}

/** From Linux's /proc (state Z or X); elsewhere no process counts as one. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // The state follows the command name, which is in parentheses and may hold anything.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state === "Z" || state === "X";
}
