/** Seeded randomness of the fuzz test (fuzz.test.ts). */
import { prng } from "../seeded.js";

/** The seeded PRNG of seeded.ts, with helpers. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Picks by weight: [weight, value] pairs. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.next() * total;
    for (const [w, v] of items) {
      if ((x -= w) < 0) return v;
    }
    return items[items.length - 1]![1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  string(): string {
    const kind = this.int(6);
    if (kind === 0) return "";
    if (kind === 1) return this.pick(WORDS);
    const chars = "abcXYZ019 _-.,:;\"'\\/{}[]\u0000\n\té€\u{1F600}\ud800\udfff";
    const units = [...chars];
    let s = "";
    for (let i = this.int(24); i > 0; i--) s += this.pick(units);
    return s;
  }
}

export const WORDS = ["laser", "probe", "pyro-ts.Daemon", "pyro-ts.NameServer", "echo", "setPower", "power", "wavelength", "blink", "sleep", "powerChanged", "__proto__", "constructor", "prototype", "then", "toString", "_internal", "$close", "x", ""];
