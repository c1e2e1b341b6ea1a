/** Served by the daemon of the garbage tests (garbage/daemon.ts) beside the Laser. */
import { expose } from "../../src/index.js";

/** Makes results and errors as big as asked, to test size limits on the way back. */
@expose
export class Bloat {
  text(length: number): string {
    return "x".repeat(length);
  }

  bytes(length: number): Buffer {
    return Buffer.alloc(length, 7);
  }

  /** Throws an error whose message (and so its stack) is `length` characters long. */
  fail(length: number): never {
    throw new RangeError("y".repeat(length));
  }

  /** `count` Buffers of `size` bytes: a reply of many attachment frames. */
  echoMany(count: number, size: number): Buffer[] {
    return Array.from({ length: count }, () => Buffer.alloc(size, 3));
  }

  /** Counts calls, so a test can tell whether a request reached the daemon. */
  calls = 0;
  take(_value: unknown): number {
    return ++this.calls;
  }
}
