import { Option, type Command } from "commander";
import { readPublicKeyFile, readTlsFingerprintFile, withNameServer, type LookupOptions, type NameServer, type Remote } from "../src/index.js";

export interface NsFlags {
  ns?: string;
  nsKey?: string;
  curveSecret?: string;
  autostartNs?: boolean;
  nsTransport?: "zmq" | "tcp";
}

/** The options every client command takes: where the nameserver is, and CURVE keys. */
export function clientOptions(command: Command): Command {
  return command
    .option("--ns <host:port>", "nameserver address (else PYRO_TS_NS, else located)")
    .option("--ns-key <key>", "the nameserver's CURVE public key (Z85), or with --ns-transport tcp its TLS fingerprint, or its .pub file (else PYRO_TS_NS_KEY)")
    .option("--curve-secret <file>", "this client's key file (pyro-ts keygen): CURVE keys, or its TLS identity over TCP (else PYRO_TS_CURVE_SECRET)")
    .option("--autostart-ns", "start a nameserver on this host, detached, when none answers (else PYRO_TS_NS_AUTOSTART=1)")
    .addOption(new Option("--ns-transport <transport>", "the nameserver's transport at --ns (else PYRO_TS_NS_TRANSPORT, else zmq)").choices(["zmq", "tcp"]));
}


/** Library options from the client flags and their environment variables. */
export function lookupOptions(flags: NsFlags): LookupOptions {
  const nsKey = flags.nsKey ?? process.env.PYRO_TS_NS_KEY;
  const secretKeyFile = flags.curveSecret ?? process.env.PYRO_TS_CURVE_SECRET;
  const tcp = (flags.nsTransport ?? process.env.PYRO_TS_NS_TRANSPORT) === "tcp";
  // Over TCP the nameserver is known by its TLS fingerprint, which its .pub file holds too.
  const serverKey = nsKey && (nsKey.endsWith(".pub") ? (tcp ? readTlsFingerprintFile(nsKey) : readPublicKeyFile(nsKey)) : nsKey);
  return {
    ...(flags.ns && { ns: flags.ns }),
    ...(serverKey && { nsKey: serverKey }),
    ...(secretKeyFile && (tcp ? { tls: { secretKeyFile } } : { curve: { secretKeyFile } })),
    ...(flags.autostartNs && { autostart: true }),
    ...(flags.nsTransport && { nsTransport: flags.nsTransport }),
  };
}

/** Runs `use` with a proxy to the nameserver the flags name (else PYRO_TS_NS, else located), then closes it. */
export function withNsFlags<R>(flags: NsFlags, use: (ns: Remote<NameServer>) => Promise<R>): Promise<R> {
  return withNameServer(lookupOptions(flags), use);
}
