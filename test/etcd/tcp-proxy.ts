/**
 * A TCP relay on 127.0.0.1 between a nameserver and etcd, which a test can cut (every
 * connection reset, new ones refused at once) and restore: etcd unreachable for one store
 * while it keeps running for the others.
 */
import { once } from "node:events";
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach } from "vitest";

export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** A relay to `target` (`host:port`) on a free loopback port. */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on("connection", (client) => proxy.#relay(client, host, port));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return proxy;
  }

  get endpoint(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Resets every connection and refuses new ones until restore(). */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #relay(client: Socket, host: string, port: number): void {
    client.on("error", () => {});
    if (this.#cut) return void client.resetAndDestroy();
    const upstream = createConnection({ host, port });
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    this.#sockets.add(client).add(upstream);
    client.on("close", () => this.#sockets.delete(client));
    upstream.on("close", () => this.#sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
  }
}

/** Relays started by a test, closed after it (register before the stores that use them, so they close after those). */
export function tcpProxies(): { start(target: string): Promise<TcpProxy> } {
  const started: TcpProxy[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((proxy) => proxy.close()));
  });
  return {
    async start(target) {
      const proxy = await TcpProxy.start(target);
      started.push(proxy);
      return proxy;
    },
  };
}
