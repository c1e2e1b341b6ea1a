import { Daemon, type DaemonOptions } from "./named-daemon.js";

export interface ServeOptions extends DaemonOptions {
  /** Metadata tags per name. */
  readonly metadata?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Pyro's serveSimple: starts a daemon serving each object under its name (also its object
 * id) and registers the names in the nameserver. Close the returned daemon to unregister.
 */
export async function serve(objects: Readonly<Record<string, object>>, options: ServeOptions = {}): Promise<Daemon> {
  const daemon = new Daemon(options);
  try {
    for (const [name, target] of Object.entries(objects)) {
      const metadata = options.metadata?.[name];
      daemon.register(target, { id: name, name, ...(metadata && { metadata }) });
    }
  } catch (error) {
    await daemon.close();
    throw error;
  }
  await daemon.start();
  return daemon;
}
