import { locateNs, type NameServer, type Remote } from "../src/index.js";

export interface NsFlags {
  ns?: string;
}

/** Runs `use` with a proxy to the nameserver given by --ns (else PYRO_TS_NS, else located), then closes it. */
export async function withNameServer<R>(flags: NsFlags, use: (ns: Remote<NameServer>) => Promise<R>): Promise<R> {
  const ns = await locateNs(flags.ns ? { ns: flags.ns } : {});
  try {
    return await use(ns);
  } finally {
    await ns.$close();
  }
}
