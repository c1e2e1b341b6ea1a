import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const POLL_MS = 10;

/** Whether a TCP port can be listened on right now. */
function tcpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Waits (at most `timeoutMs`) until the endpoint a closed socket was bound to can be bound
 * again. libzmq releases it asynchronously after close(); zmq_unbind would be immediate
 * but can abort libzmq 4.3.5 when a peer disconnects at the same moment.
 */
export async function endpointReleased(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const tcp = /^tcp:\/\/(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint);
  const ipcPath = endpoint.startsWith("ipc://") ? endpoint.slice("ipc://".length) : undefined;
  while (Date.now() < deadline) {
    if (tcp && (await tcpPortFree(tcp[1] ?? tcp[2]!, Number(tcp[3])))) return;
    if (ipcPath !== undefined && !existsSync(ipcPath)) return;
    if (!tcp && ipcPath === undefined) return;
    await sleep(POLL_MS);
  }
}
