/**
 * TLS identities for the TCP transport, in the user model of CURVE: `pyro-ts keygen` puts a
 * private key and a self-signed certificate beside the CURVE keys in `<name>.key`, and the
 * certificate's fingerprint in `<name>.pub`. Peers are known by that fingerprint (SHA-256 of
 * the certificate's public key), pinned by clients from the daemon's URI (`tls=`) and listed
 * for daemons in the same folder of `.pub` files as CURVE keys; no certificate authority.
 */
import "reflect-metadata"; // @peculiar/x509 needs it loaded first
import { createHash, webcrypto, X509Certificate } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import { SecurityError } from "../../errors.js";

/** The certificate library, loaded when a certificate is made (rarely: keygen), not with every program. */
async function x509Library(): Promise<typeof import("@peculiar/x509")> {
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

export interface TlsIdentity {
  /** PEM private key. */
  readonly key: string;
  /** PEM self-signed certificate. */
  readonly cert: string;
  /** `sha256:` and the base64url SHA-256 of the certificate's public key (SPKI). */
  readonly fingerprint: string;
}

/** A fingerprint as `tls-fingerprint` lines and URIs carry it. */
export const FINGERPRINT_PATTERN = /^sha256:[A-Za-z0-9_-]{43}$/;

/** The fingerprint of a certificate: its public key's, so a certificate made anew for the same key keeps it. */
export function fingerprintOf(cert: X509Certificate | string): string {
  const certificate = typeof cert === "string" ? new X509Certificate(cert) : cert;
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("base64url")}`;
}

/** A new identity: an ECDSA P-256 key and a certificate for it, valid for 100 years. */
export async function generateTlsIdentity(name = "pyro-ts"): Promise<TlsIdentity> {
  const x509 = await x509Library();
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${name.replace(/[,=+<>#;\\"]/g, "_")}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 100 * 365 * 24 * 3600_000),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["keys"],
    signingAlgorithm: algorithm,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64").replace(/(.{64})/g, "$1\n").trimEnd()}\n-----END PRIVATE KEY-----\n`;
  const cert = certificate.toString("pem");
  return { key, cert: cert.endsWith("\n") ? cert : `${cert}\n`, fingerprint: fingerprintOf(cert) };
}

/** Adds a new TLS identity to key files written by writeKeyFiles: the PEM blocks to the `.key`, the fingerprint to the `.pub`. */
export async function addTlsIdentity(secretFile: string, publicFile: string, name?: string): Promise<string> {
  const identity = await generateTlsIdentity(name);
  appendFileSync(secretFile, `${identity.key}${identity.cert}`);
  appendFileSync(publicFile, `tls-fingerprint = "${identity.fingerprint}"\n`);
  return identity.fingerprint;
}

function pemBlock(text: string, label: string): string | undefined {
  const match = new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`).exec(text);
  return match ? `${match[0]}\n` : undefined;
}

/** The TLS identity in a `.key` file. */
export function readTlsIdentity(path: string): TlsIdentity {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SecurityError(`cannot read key file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const key = pemBlock(text, "PRIVATE KEY");
  const cert = pemBlock(text, "CERTIFICATE");
  if (!key || !cert) throw new SecurityError(`${path} holds no TLS identity (make it with pyro-ts keygen)`);
  try {
    return { key, cert, fingerprint: fingerprintOf(cert) };
  } catch (error) {
    throw new SecurityError(`${path} holds a broken certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The TLS fingerprint in a `.pub` (or `.key`) file written by `pyro-ts keygen`. */
export function readTlsFingerprintFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SecurityError(`cannot read key file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const fingerprint = /^\s*tls-fingerprint\s*=\s*"([^"]*)"/m.exec(text)?.[1] ?? (pemBlock(text, "CERTIFICATE") && fingerprintOf(pemBlock(text, "CERTIFICATE")!));
  if (!fingerprint || !FINGERPRINT_PATTERN.test(fingerprint)) throw new SecurityError(`${path} holds no TLS fingerprint (make it with pyro-ts keygen)`);
  return fingerprint;
}
