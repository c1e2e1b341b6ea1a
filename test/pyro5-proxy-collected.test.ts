/**
 * A Pyro5 proxy its program lets go of without `$close()` closes its connections once the
 * garbage collector has taken it (as Python's proxy does when deleted); one still referenced, or
 * a stream of it still being read, keeps them. Against a pyro-ts daemon's Pyro5 port on
 * 127.0.0.1; collection forced through V8's own gc().
 */
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Daemon, expose, pyro5 } from "../src/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

@expose
class Counter {
  #n = 0;
  bump(): number {
    return ++this.#n;
  }

  *count(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}

let daemon: Daemon;
const gone: string[] = [];
const pyro5Gone = (): number => gone.filter((peer) => peer.startsWith("pyro5:")).length;

beforeAll(async () => {
  daemon = new Daemon({ host: "127.0.0.1", port: 0, pyro5: { port: 0 } });
  await daemon.start();
  daemon.register(new Counter(), "counter");
  daemon.clientDisconnected.connect((peer) => void gone.push(peer));
});

afterAll(async () => {
  await daemon?.close();
});

async function collectUntil(done: () => boolean, rounds = 40): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await sleep(50);
  }
}

it("a proxy dropped without $close() closes its connection once collected; a held one and its stream keep theirs", async () => {
  const uri = daemon.pyro5UriFor("counter");
  const held = await pyro5.connect<Counter>(uri);
  expect(await held.bump()).toBe(1);
  const stream = await pyro5.connect<Counter>(uri).then((proxy) => proxy.count(3));
  expect((await stream.next()).value).toBe(0);
  // Dropped at once, after one call on its own connection.
  expect(await (await pyro5.connect<Counter>(uri)).bump()).toBe(2);
  await collectUntil(() => pyro5Gone() >= 1);
  expect(pyro5Gone()).toBe(1);
  await collectUntil(() => false, 5);
  expect(pyro5Gone()).toBe(1);
  // The held proxy and the stream of a dropped one still work.
  expect(await held.bump()).toBe(3);
  expect([(await stream.next()).value, (await stream.next()).value, (await stream.next()).done]).toEqual([1, 2, true]);
  await held.$close();
  await expect.poll(pyro5Gone).toBe(2);
}, 20_000);
