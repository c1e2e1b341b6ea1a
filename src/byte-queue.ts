/**
 * The bytes received on a stream and not yet consumed, as the chunks they came in: the
 * decoders of both byte-stream protocols (pyro-ts's TCP framing, Pyro5's messages) read
 * through it. Bytes lying in one chunk are handed out as a view, never copied; bytes spread
 * over chunks are joined once, so a large message arriving in many small chunks costs linear
 * time. Pure, no I/O.
 */
const EMPTY = Buffer.alloc(0);

export class ByteQueue {
  #chunks: Buffer[] = [];
  /** Index of the first chunk not consumed yet (a head index: shifting many small chunks would be quadratic). */
  #first = 0;
  /** Offset of the first unconsumed byte in #chunks[#first]. */
  #offset = 0;
  /** Bytes not consumed yet. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The chunk the next unconsumed byte lies in (empty when none): decoders read a whole message there in place. */
  get head(): Buffer {
    return this.#chunks[this.#first] ?? EMPTY;
  }

  /** Where in `head` the next unconsumed byte is. */
  get headOffset(): number {
    return this.#offset;
  }

  /** Consumes `n` bytes lying in `head` (n ≤ head.length - headOffset). */
  skip(n: number): void {
    this.#consume(n);
  }

  /** Forgets everything held. */
  clear(): void {
    this.#chunks = [];
    this.#first = this.#offset = this.length = 0;
  }

  /** The first `n` bytes (n ≤ length) without consuming them. */
  peek(n: number): Buffer {
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#offset >= n) return first.subarray(this.#offset, this.#offset + n);
    const copy = Buffer.allocUnsafe(n);
    let copied = 0;
    for (let i = this.#first, offset = this.#offset; copied < n; i++, offset = 0) {
      const chunk = this.#chunks[i]!;
      copied += chunk.copy(copy, copied, offset, Math.min(chunk.length, offset + n - copied));
    }
    return copy;
  }

  /** Takes `n` bytes (n ≤ length): a view when they lie in one chunk, else one copy. */
  take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#consume(n);
      return view;
    }
    const copy = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[this.#first]!;
      const part = Math.min(n - copied, chunk.length - this.#offset);
      chunk.copy(copy, copied, this.#offset, this.#offset + part);
      copied += part;
      this.#consume(part);
    }
    return copy;
  }

  /** Takes a uint32 BE (4 ≤ length), without a view when it lies in one chunk. */
  takeUInt32(): number {
    const first = this.#chunks[this.#first]!;
    if (first.length - this.#offset >= 4) {
      const value = first.readUInt32BE(this.#offset);
      this.#consume(4);
      return value;
    }
    return this.take(4).readUInt32BE(0);
  }

  #consume(n: number): void {
    this.length -= n;
    this.#offset += n;
    if (this.#offset === this.#chunks[this.#first]!.length) {
      this.#first++;
      this.#offset = 0;
      if (this.#first === this.#chunks.length) {
        this.#chunks = [];
        this.#first = 0;
      } else if (this.#first > 1024 && this.#first * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#first);
        this.#first = 0;
      }
    }
  }
}
