import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../src/codec/values.js";
import { LimitExceededError, Signal, expose } from "../src/index.js";
import { decodeMessage, encodeMessage, isBatch, splitBatch } from "../src/protocol/frames.js";
import type { Message } from "../src/protocol/message.js";
import { forEachTransport, type TransportKind } from "./helpers.js";
import { rawWire, type RawWire } from "./raw-wire.js";

const MiB = 1024 * 1024;

@expose
class Store {
  readonly big = new Signal<[payload: Buffer]>();

  blob(size: number): Buffer {
    return Buffer.alloc(size, 7);
  }

  emit(count: number, size: number): void {
    for (let i = 0; i < count; i++) this.big.emit(Buffer.alloc(size, i & 0xff));
  }

  async *chunks(count: number, size: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < count; i++) yield Buffer.alloc(size, i & 0xff);
  }
}

/** A client that speaks the protocol by hand and never reports what it received: one that does not read, to the daemon. */
class SilentClient {
  readonly wire: RawWire;
  #waiting: Message[] = [];

  constructor(transport: TransportKind, endpoint: string) {
    this.wire = rawWire(transport, endpoint);
  }

  call(id: number, object: string, member: string, args: unknown[]): Promise<void> {
    return this.wire.send(encodeMessage({ kind: "call", id, oneway: false, object, member, args: encodeValue(args) }));
  }

  async receive(): Promise<Message> {
    if (this.#waiting.length === 0) {
      const frames = await this.wire.receive(5000);
      this.#waiting = (isBatch(frames) ? splitBatch(frames) : [frames]).map((message) => decodeMessage(message));
    }
    return this.#waiting.shift()!;
  }

  close(): void {
    this.wire.close();
  }
}

function endpointOf(uri: string): string {
  const match = /@([^:]+):(\d+)/.exec(uri)!;
  return `tcp://${match[1]}:${match[2]}`;
}

forEachTransport((r, transport) => {
  describe("each connection's outgoing queue is bounded in bytes", () => {

    it("a client that never confirms gets LimitExceededError instead of results once the bound is reached", async () => {
      const daemon = await r.daemon({ maxOutgoingBytes: 8 * MiB });
      const uri = daemon.register(new Store(), "store");
      const client = new SilentClient(transport, endpointOf(uri));
      r.onCleanup(async () => client.close());
      for (let id = 1; id <= 40; id++) await client.call(id, "store", "blob", [MiB]);
      const results: number[] = [];
      const refused: string[] = [];
      for (let n = 0; n < 40; n++) {
        const reply = await client.receive();
        if (reply.kind === "result") results.push(reply.id);
        else if (reply.kind === "error") refused.push((decodeValue(reply.value) as { name: string }).name);
      }
      // 40 MiB asked for; at most the bound and the replies' 8 MiB allowance (plus the message
      // that crossed it) was sent.
      expect(results.length).toBeGreaterThanOrEqual(15);
      expect(results.length).toBeLessThanOrEqual(17);
      expect(refused).toHaveLength(40 - results.length);
      expect(new Set(refused)).toEqual(new Set(["LimitExceededError"]));
    }, 20_000);

    it("a client that reads keeps getting large results far past the bound, one after another", async () => {
      const daemon = await r.daemon({ maxOutgoingBytes: 4 * MiB });
      const store = await r.connect<Store>(daemon.register(new Store(), "store"));
      let total = 0;
      for (let i = 0; i < 60; i++) total += (await store.blob(MiB)).length;
      expect(total).toBe(60 * MiB);
    }, 30_000);

    it("concurrent requests beyond the bound: the ones that do not fit are refused, the rest arrive whole", async () => {
      const daemon = await r.daemon({ maxOutgoingBytes: 4 * MiB });
      const store = await r.connect<Store>(daemon.register(new Store(), "store"));
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => store.blob(MiB)));
      const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      expect(fulfilled.length).toBeGreaterThanOrEqual(3);
      for (const o of fulfilled) expect((o as PromiseFulfilledResult<Buffer>).value.length).toBe(MiB);
      for (const o of rejected) expect(o.reason).toBeInstanceOf(LimitExceededError);
      // Once read, the connection takes large results again.
      expect((await store.blob(MiB)).length).toBe(MiB);
    }, 30_000);

    it("events past the bound wait and are delivered as the client confirms, none lost", async () => {
      const daemon = await r.daemon({ maxOutgoingBytes: 2 * MiB });
      const store = await r.connect<Store>(daemon.register(new Store(), "store"));
      const sizes: number[] = [];
      let dropped = 0;
      await store.big.connect((payload) => void sizes.push(payload.length));
      store.big.missed.connect((gap) => void (dropped += gap.reason === "overflow" ? gap.count : 1));
      await store.emit(200, 100 * 1024); // 20 MiB of events, ten times the bound
      const deadline = Date.now() + 15_000;
      while (sizes.length < 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(dropped).toBe(0);
      expect(sizes).toHaveLength(200);
    }, 20_000);

    it("stream items wait for the bound, not only for credit, and the stream completes", async () => {
      const daemon = await r.daemon({ maxOutgoingBytes: 2 * MiB, streamWindowBytes: 32 * MiB });
      const store = await r.connect<Store>(daemon.register(new Store(), "store"));
      let bytes = 0;
      let items = 0;
      for await (const chunk of store.chunks(40, 512 * 1024)) {
        expect(chunk[0]).toBe(items & 0xff);
        bytes += chunk.length;
        items++;
      }
      expect(items).toBe(40);
      expect(bytes).toBe(20 * MiB);
    }, 30_000);

    it("a malformed report is a ProtocolError and changes nothing", async () => {
      const daemon = await r.daemon();
      const uri = daemon.register(new Store(), "store");
      const client = new SilentClient(transport, endpointOf(uri));
      r.onCleanup(async () => client.close());
      const header = Buffer.from(encodeMessage({ kind: "received", id: 0, bytes: 0, messages: 0 })[0] as Buffer);
      for (const body of ["[-1,0]", '["a",0]', "[1]", "[4294967296,0]"]) {
        await client.wire.send([header, body]);
        const reply = await client.receive();
        expect(reply.kind).toBe("error");
        expect((decodeValue((reply as { value: Parameters<typeof decodeValue>[0] }).value) as { name: string }).name).toBe("ProtocolError");
      }
      await client.call(9, "store", "blob", [10]);
      expect(await client.receive()).toMatchObject({ kind: "result", id: 9 });
    }, 20_000);

    it("refuses a bound it cannot keep", async () => {
      await expect(r.daemon({ maxOutgoingBytes: 0 })).rejects.toThrow(RangeError);
      await expect(r.daemon({ maxOutgoingBytes: 2 * 1024 ** 3 })).rejects.toThrow(/at most 1 GiB/);
    });
  });
});
