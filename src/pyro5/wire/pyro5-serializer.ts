/** What a Pyro5 serializer (serpent, json) does: encode to and decode from the value model of docs/pyro5.md. */
export interface Pyro5Serializer {
  /** SerializerId. */
  readonly id: number;
  readonly name: "json" | "serpent";
  /** Throws SerializeError for what this format cannot carry (a clear message saying what and why). */
  encode(value: unknown): Buffer;
  /** Throws SerializeError for malformed input. */
  decode(payload: Buffer): unknown;
}
