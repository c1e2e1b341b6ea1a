/**
 * Child process: the raw node:net baseline. A TCP server on loopback answering each
 * length-prefixed message by its first byte (bench/raw-net-client.ts has the wire): "e" echo,
 * "a" reply the payload's length, "o" count without reply, "b" reply the count, "c" reply
 * cpuUsage, "s" subscribe this connection, "f" + n: send n messages to every subscriber.
 * Replies written in one tick leave in one write. Prints one JSON line: where it listens.
 */
import { createServer, type Socket } from "node:net";
import { CorkedWriter, encodeMessage, LengthDecoder } from "./raw-net-client.js";

let received = 0;
const subscribers: CorkedWriter[] = [];
const sockets = new Set<Socket>();

const server = createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => {});
  const writer = new CorkedWriter(socket);
  const decoder = new LengthDecoder();
  socket.on("data", (chunk: Buffer) =>
    decoder.push(chunk, (message) => {
      switch (message[0]) {
        case 0x65: // "e": the same bytes back
          writer.write(encodeMessage("e", message.subarray(1)));
          break;
        case 0x61: // "a"
          writer.write(encodeMessage("a", String(message.length - 1)));
          break;
        case 0x6f: // "o"
          received++;
          break;
        case 0x62: // "b"
          writer.write(encodeMessage("b", String(received)));
          break;
        case 0x63: // "c"
          writer.write(encodeMessage("c", JSON.stringify(process.cpuUsage())));
          break;
        case 0x73: // "s"
          subscribers.push(writer);
          writer.write(encodeMessage("s"));
          break;
        case 0x66: {
          // "f"
          const n = Number(message.subarray(1).toString());
          for (let i = 0; i < n; i++) for (const s of subscribers) s.write(encodeMessage("t", String(i)));
          break;
        }
      }
    }),
  );
});

server.listen({ host: "127.0.0.1", port: 0 }, () => {
  const address = server.address() as { address: string; port: number };
  process.stdout.write(`${JSON.stringify({ host: address.address, port: address.port })}\n`);
});
process.stdin.resume();
process.stdin.once("end", () => {
  server.close();
  for (const socket of sockets) socket.destroy();
});
