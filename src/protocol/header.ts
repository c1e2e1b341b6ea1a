/**
 * A message's 12-byte header, written as text. Every byte is below 0x80, so its UTF-8 encoding is
 * its characters: header and JSON body make one string, which ZeroMQ copies as it sends it (a
 * Buffer above 128 bytes it would keep until sent, holding whatever shares its memory) and TCP
 * encodes straight into its write buffer. Pure, no I/O.
 *
 *   0     version
 *   1     kind code
 *   2     flags
 *   3     reserved, 0
 *   4-8   correlation id: five 7-bit digits, most significant first (the first holds the top 4 bits)
 *   9-11  number of attachment frames: three 7-bit digits
 */
export const HEADER_SIZE = 12;
/** Most attachment frames three 7-bit digits hold. */
export const MAX_ATTACHMENTS = 2 ** 21 - 1;
const ID_AT = 4;
const ID_DIGITS = 5;
const ATTACHMENTS_AT = 9;
const ATTACHMENTS_DIGITS = 3;

/** The header as text; `id` a uint32, `attachments` at most MAX_ATTACHMENTS. */
export function headerText(version: number, code: number, flags: number, id: number, attachments: number): string {
  return String.fromCharCode(
    version,
    code,
    flags,
    0,
    id >>> 28,
    (id >>> 21) & 0x7f,
    (id >>> 14) & 0x7f,
    (id >>> 7) & 0x7f,
    id & 0x7f,
    (attachments >>> 14) & 0x7f,
    (attachments >>> 7) & 0x7f,
    attachments & 0x7f,
  );
}

/** A number written as 7-bit digits from `at`; -1 when a byte is not one (its top bit set). */
function digits(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const b = bytes[i]!;
    if (b > 0x7f) return -1;
    value = value * 128 + b;
  }
  return value;
}

/** The correlation id of a header; -1 when it holds none (shorter than 9 bytes, not 7-bit digits, or above 2^32-1). */
export function readId(header: Uint8Array): number {
  if (header.length < ID_AT + ID_DIGITS) return -1;
  const id = digits(header, ID_AT, ID_DIGITS);
  return id > 0xffff_ffff ? -1 : id;
}

/** The number of attachment frames of a whole header; -1 when bytes 9-11 are not 7-bit digits. */
export function readAttachments(header: Uint8Array): number {
  return digits(header, ATTACHMENTS_AT, ATTACHMENTS_DIGITS);
}
