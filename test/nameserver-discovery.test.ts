/** Finding the nameserver on loopback: by broadcast, and what locateNs says when nothing answers. */
import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { discoverNsUri, locateNs } from "../src/index.js";
import { resources } from "./helpers.js";
import { closedTcpPort, nameserverHelpers, namingError, sleep } from "./nameserver-helpers.js";

const use = resources();
const { nameserver } = nameserverHelpers(use);

describe("nameserver discovery on loopback", () => {
  async function silentUdpPort(): Promise<{ socket: Socket; port: number }> {
    const socket = createSocket("udp4");
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    use.onCleanup(async () => {
      const closed = once(socket, "close");
      socket.close();
      await closed;
    });
    return { socket, port: socket.address().port };
  }

  it("locateNs finds the nameserver by broadcast when nothing answers on the port", async () => {
    // The responder binds the loopback broadcast address: it hears 127.255.255.255 only.
    const { running } = await nameserver({ bchost: "127.255.255.255" });
    expect(await discoverNsUri(["127.255.255.255"], running.bcport!, 1000)).toBe(running.uri);

    const closed = await closedTcpPort();
    const ns = await locateNs({ port: closed, broadcast: ["127.255.255.255"], bcport: running.bcport!, locateTimeout: 500 });
    use.onCleanup(() => ns.$close());
    expect(ns.$uri).toBe(running.uri);
    expect(await ns.count()).toBe(1);
  });

  it("the responder ignores datagrams other than GET_NSURI", async () => {
    const { running } = await nameserver();
    const { socket } = await silentUdpPort();
    const answers: string[] = [];
    socket.on("message", (message) => answers.push(message.toString()));
    socket.send("HELLO", running.bcport!, "127.0.0.1");
    socket.send("GET_NSURI", running.bcport!, "127.0.0.1");
    await expect.poll(() => answers, { timeout: 3000 }).toEqual([running.uri]);
    await sleep(200);
    expect(answers).toEqual([running.uri]);
  });

  it("discoverNsUri returns undefined when nobody answers, and locateNs says what it tried", async () => {
    const { port } = await silentUdpPort();
    expect(await discoverNsUri(["127.255.255.255"], port, 500)).toBeUndefined();
    expect(await discoverNsUri([], port, 500)).toBeUndefined();

    const closed = await closedTcpPort();
    await namingError(
      locateNs({ port: closed, broadcast: ["127.255.255.255"], bcport: port, locateTimeout: 300 }),
      new RegExp(`no nameserver found \\(tried 127\\.0\\.0\\.1:${closed}; broadcast to 127\\.255\\.255\\.255 on UDP ${port}\\)`),
    );
    await namingError(locateNs({ port: closed, broadcast: false, locateTimeout: 300 }), new RegExp(`no nameserver found \\(tried 127\\.0\\.0\\.1:${closed}\\)`));
    await namingError(locateNs({ ns: "not a host:port" }), /invalid nameserver address "not a host:port"/);
  });
});
