/**
 * TLS on the TCP transport, in CURVE's user model: `pyro-ts keygen` key files, the daemon's
 * fingerprint pinned from its URI, clients admitted from a folder of `.pub` files. Real TLS
 * over loopback; a forwarding socket records what travels on the wire.
 */
import { mkdtempSync, copyFileSync, mkdirSync } from "node:fs";
import { createServer, connect as netConnect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { addTlsIdentity, connect, expose, formatUri, parseUri, SecurityError, writeKeyFiles } from "../src/index.js";
import { resources } from "./helpers.js";

const use = resources();
const SECRET = "SECRET-PAYLOAD-8d1f3c";

@expose
class Vault {
  echo(text: string): string {
    return `${text}!`;
  }
}

let dir: string;
const keys = (name: string): string => join(dir, `${name}.key`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pyro-tls-"));
  mkdirSync(join(dir, "clients"));
  for (const name of ["server", "alice", "mallory"]) {
    const { secretFile, publicFile } = writeKeyFiles(join(dir, name));
    await addTlsIdentity(secretFile, publicFile, name);
    if (name === "alice") copyFileSync(publicFile, join(dir, "clients", "alice.pub"));
  }
});

/** A TCP forwarder from a free port to `port`, keeping every byte that passes in either direction. */
async function recorder(port: number): Promise<{ port: number; bytes: () => Buffer }> {
  const seen: Buffer[] = [];
  const server: Server = createServer((inbound) => {
    const outbound = netConnect({ host: "127.0.0.1", port });
    inbound.on("data", (chunk: Buffer) => void seen.push(chunk));
    outbound.on("data", (chunk: Buffer) => void seen.push(chunk));
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  use.onCleanup(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as { port: number }).port, bytes: () => Buffer.concat(seen) };
}

function portOf(uri: string): number {
  return (parseUri(uri).location as { port: number }).port;
}

/** The same URI, at another port of 127.0.0.1 (the recorder's). */
function via(uri: string, port: number): string {
  const parsed = parseUri(uri);
  return formatUri({ ...parsed, location: { transport: "tcp", host: "127.0.0.1", port } });
}

async function secured(authorized: boolean) {
  const daemon = await use.daemon({ transport: "tcp", tls: { secretKeyFile: keys("server"), ...(authorized && { authorizedClients: join(dir, "clients") }) } });
  return daemon.register(new Vault(), "vault");
}

describe("TLS on the TCP transport", () => {
  it("encrypts: what the client sends is not on the wire, and is without TLS", async () => {
    const uri = await secured(false);
    expect(parseUri(uri).tls).toMatch(/^sha256:/);
    const tap = await recorder(portOf(uri));
    const vault = await use.connect<Vault>(via(uri, tap.port));
    expect(await vault.echo(SECRET)).toBe(`${SECRET}!`);
    expect(tap.bytes().includes(SECRET)).toBe(false);

    const plain = await use.daemon({ transport: "tcp" });
    const plainUri = plain.register(new Vault(), "vault");
    const plainTap = await recorder(portOf(plainUri));
    const clear = await use.connect<Vault>(via(plainUri, plainTap.port));
    await clear.echo(SECRET);
    expect(plainTap.bytes().includes(SECRET)).toBe(true);
  });

  it("admits a client whose fingerprint is in the folder, and refuses others at once with SecurityError", async () => {
    const uri = await secured(true);
    const alice = await use.connect<Vault>(uri, { tls: { secretKeyFile: keys("alice") } });
    expect(await alice.echo("hi")).toBe("hi!");
    for (const options of [{ tls: { secretKeyFile: keys("mallory") } }, {}]) {
      const started = Date.now();
      await expect(connect<Vault>(uri, { ...options, timeout: 10_000 })).rejects.toBeInstanceOf(SecurityError);
      expect(Date.now() - started).toBeLessThan(3000);
    }
  });

  it("refuses a daemon whose certificate is not the one the URI names, and a client without TLS, at once", async () => {
    const uri = await secured(false);
    const other = parseUri(await use.daemon({ transport: "tcp", tls: { secretKeyFile: keys("alice") } }).then((d) => d.register(new Vault(), "vault"))).tls!;
    const started = Date.now();
    await expect(connect<Vault>(formatUri({ ...parseUri(uri), tls: other }), { timeout: 10_000 })).rejects.toBeInstanceOf(SecurityError);
    const { tls: _pinned, ...withoutTls } = parseUri(uri);
    await expect(connect<Vault>(formatUri(withoutTls), { timeout: 10_000 })).rejects.toBeInstanceOf(SecurityError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("keeps TLS and CURVE each to its transport", async () => {
    await expect(use.daemon({ transport: "zmq", tls: { secretKeyFile: keys("server") } })).rejects.toThrow(TypeError);
    await expect(use.daemon({ transport: "tcp", curve: { secretKeyFile: keys("server") } })).rejects.toThrow(TypeError);
  });
});
