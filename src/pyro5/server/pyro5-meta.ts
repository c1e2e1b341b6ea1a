import type { ExposedShape } from "../../daemon/introspect.js";

/** An object's shape as a Pyro5 proxy wants it (the handshake's and get_metadata's "meta"). */
export interface Pyro5Meta {
  /** Every callable method, the oneway ones included (a Python proxy checks names against this). */
  readonly methods: string[];
  /** Methods a Python proxy calls without waiting (it sets the oneway flag for these only). */
  readonly oneway: string[];
  /** Attributes a Python proxy reads and writes with __getattr__/__setattr__ (read-only, write-only and both). */
  readonly attrs: string[];
}

/**
 * Pyro5's metadata for a pyro-ts shape. Signals have no Pyro5 equivalent: they are left out,
 * so a Python proxy refuses them locally rather than calling what it cannot use.
 */
export function pyro5Meta(shape: ExposedShape): Pyro5Meta {
  return {
    methods: [...shape.metadata.methods],
    oneway: [...shape.metadata.oneway],
    attrs: [...new Set([...shape.metadata.attributes, ...shape.metadata.writable])].sort(),
  };
}
