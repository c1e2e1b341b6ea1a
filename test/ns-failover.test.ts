/**
 * Issue 11, part 3: programs keeping names and clients given several nameservers move to the
 * next live one when theirs dies, and back to the preferred one when it returns. Real
 * processes: two nameservers (A preferred, B) and a program keeping a name.
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { lookup, locateNs, NamingError } from "../src/index.js";
import type { Laser } from "./fixtures/laser.js";
import { freePort as freeTcpPort, pollFor } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const CLI = fileURLToPath(new URL("../dist/cli/pyro-ts.js", import.meta.url));
const PROGRAM = fileURLToPath(new URL("../dist/test/fixtures/named-program.js", import.meta.url));

const children: NodeChild[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill().catch(() => {});
});

async function nameserver(port: number): Promise<NodeChild> {
  const child = new NodeChild(`nameserver ${port}`, CLI, ["nameserver", "-p", String(port), "--no-broadcast"]);
  children.push(child);
  await child.waitForLine((line) => line.startsWith("nameserver running"), 10_000, "nameserver running");
  return child;
}

async function program(ns: string, name: string): Promise<NodeChild> {
  const child = new NodeChild(name, PROGRAM, [ns, name]);
  children.push(child);
  await child.waitForLine((line) => line.startsWith(`serving ${name}`), 10_000, "serving");
  return child;
}

async function namesAt(port: number): Promise<string[]> {
  const ns = await locateNs({ ns: `127.0.0.1:${port}`, broadcast: false, locateTimeout: 500, timeout: 1000 });
  try {
    return Object.keys(await ns.list({ prefix: "lab." }));
  } finally {
    await ns.$close();
  }
}


describe("failover between nameservers", () => {
  test("a program keeping a name moves to B when A dies, and back to A when A returns", async () => {
    const [portA, portB] = [await freeTcpPort(), await freeTcpPort()];
    let a = await nameserver(portA);
    await nameserver(portB);
    await program(`127.0.0.1:${portA},127.0.0.1:${portB}`, "lab.laser");
    expect(await namesAt(portA)).toEqual(["lab.laser"]);
    expect(await namesAt(portB)).toEqual([]);

    const killedAt = Date.now();
    await a.kill();
    await pollFor("the name on B", 5000, async () => ((await namesAt(portB)).includes("lab.laser") ? true : undefined));
    console.log(`name moved to B ${Date.now() - killedAt} ms after A died`);

    // A client given both finds the name through B, A being dead.
    const laser = await lookup<Laser>("lab.laser", { ns: [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`], broadcast: false, locateTimeout: 1000 });
    try {
      expect(await laser.setPower(3)).toBe(3);
    } finally {
      await laser.$close();
    }

    // A comes back (empty: memory storage): the program prefers it again, and leaves B.
    a = await nameserver(portA);
    const restartedAt = Date.now();
    await pollFor("the name back on A", 8000, async () => ((await namesAt(portA)).includes("lab.laser") ? true : undefined));
    await pollFor("the name gone from B", 3000, async () => ((await namesAt(portB)).length === 0 ? true : undefined));
    console.log(`name back on A ${Date.now() - restartedAt} ms after A restarted`);
  });

  test("with no nameserver answering, a list fails at once with every address named", async () => {
    const [portA, portB] = [await freeTcpPort(), await freeTcpPort()];
    const error = await locateNs({ ns: [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`], broadcast: false, locateTimeout: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NamingError);
    expect(String(error)).toContain(`127.0.0.1:${portA}, 127.0.0.1:${portB}`);
  });

  test("bad addresses in a list are refused before anything is opened", async () => {
    await expect(locateNs({ ns: ["127.0.0.1:9090", "no port:x"] })).rejects.toThrow(NamingError);
  });
});
