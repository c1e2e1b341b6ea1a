import { createServer } from "node:net";
import { afterEach, expect, it } from "vitest";
import { locateNs, startNameServer, type RunningNameServer } from "../src/index.js";

let running: RunningNameServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Ports nobody listens on: bound once by the OS, then released. */
async function closedPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ports.push((server.address() as { port: number }).port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return ports;
}

it("autoclean removes 2,000 names on 100 dead daemons while lookups keep being answered", { timeout: 60_000 }, async () => {
  running = await startNameServer({ port: 0, broadcast: false, autoclean: 1, autocleanGrace: 1 });
  const ns = await locateNs({ ns: running.uri.split("@")[1]! });
  try {
    const ports = await closedPorts(100);
    for (let i = 0; i < 2000; i++) running.nameserver.register(`dead.${i}`, `PYRO:obj${i}@127.0.0.1:${ports[i % ports.length]}`);
    let removed = 0;
    await ns.removed.connect(() => void removed++);
    // While sweeps wait on dead daemons, the nameserver answers at once.
    const answered: number[] = [];
    for (let i = 0; i < 20; i++) {
      const start = Date.now();
      await ns.lookup("dead.0").catch(() => undefined);
      answered.push(Date.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(Math.max(...answered)).toBeLessThan(1000);
    await expect.poll(() => removed, { timeout: 45_000, interval: 500 }).toBe(2000);
    expect(await ns.count()).toBe(1);
  } finally {
    await ns.$close();
  }
});
